package apitemplate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/internal/apitest"
)

// statementRecorder is a pgx.QueryTracer that keeps the text of every
// statement the application's pool sends, BEGIN and COMMIT included.
type statementRecorder struct {
	mu         sync.Mutex
	statements []string
}

func (r *statementRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statements = append(r.statements, strings.Join(strings.Fields(data.SQL), " "))
	return ctx
}

func (r *statementRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the statements recorded since the last take and forgets them.
func (r *statementRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.statements
	r.statements = nil
	return s
}

const (
	itemCols = "id, name, description, price_cents, owner_id, version, created_at, updated_at"
	// The user-exists check of every protected request also reads the
	// caller's role and token generation.
	sqlUserExists  = "SELECT role, token_generation FROM users WHERE id = $1"
	sqlSelectItem  = "SELECT " + itemCols + " FROM items WHERE id = $1"
	sqlSelectOwner = "SELECT owner_id FROM items WHERE id = $1"
	sqlInsertItem  = "INSERT INTO items (name, description, price_cents, owner_id) VALUES ($1, $2, $3, $4) RETURNING " + itemCols
	sqlSelectPage  = "SELECT " + itemCols + " FROM items ORDER BY id ASC LIMIT $1"
	sqlCountItems  = "SELECT count(*) FROM (SELECT 1 FROM items LIMIT 10001) AS capped"
	sqlOwnerPage   = "SELECT " + itemCols + " FROM items WHERE owner_id = $1 ORDER BY price_cents DESC, id DESC LIMIT $2"
	sqlOwnerCount  = "SELECT count(*) FROM (SELECT 1 FROM items WHERE owner_id = $1 LIMIT 10001) AS capped"
	sqlCursorPage  = "SELECT " + itemCols + " FROM items WHERE owner_id = $1 AND (price_cents, id) < ($2::bigint, $3) ORDER BY price_cents DESC, id DESC LIMIT $4"
	sqlSelectUser  = "SELECT id, email, name, role, version, created_at, updated_at FROM users WHERE id = $1"
	// A conditional write is the one UPDATE, its condition in the WHERE
	// clause.
	sqlUpdateItem        = "UPDATE items SET name = COALESCE($2, name), description = COALESCE($3, description), price_cents = COALESCE($4, price_cents), version = version + 1, updated_at = now() WHERE id = $1 AND owner_id = $5 RETURNING " + itemCols
	sqlUpdateItemIfMatch = "UPDATE items SET name = COALESCE($2, name), description = COALESCE($3, description), price_cents = COALESCE($4, price_cents), version = version + 1, updated_at = now() WHERE id = $1 AND owner_id = $5 AND version = ANY($6) RETURNING " + itemCols
	newItemBody          = `{"name":"Teapot","description":"Short and stout","price_cents":1999}`
)

// TestStatementsPerRequest pins down what each hot route costs the database
// once the pool is warm: a read is one statement and opens no transaction,
// with or without If-None-Match; a write is its one INSERT ... RETURNING or
// UPDATE ... RETURNING, with or without If-Match, plus the user-exists check
// that authentication needs. A new statement, or a BEGIN/COMMIT pair, on these
// routes is a round trip every request pays, so it should fail a test.
func TestStatementsPerRequest(t *testing.T) {
	rec := &statementRecorder{}
	api := apitest.New(t, func(c *app.Config) { c.DBTracer = rec })
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")

	create := apitest.Request{Method: http.MethodPost, Path: "/items", Body: newItemBody, Token: ada.Token}
	res := api.Do(create)
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /items: %d %s", res.Status, res.Body)
	}
	var item struct {
		ID int64 `json:"id"`
	}
	res.JSON(t, &item)
	if res := api.Do(create); res.Status != http.StatusCreated {
		t.Fatalf("POST /items: %d %s", res.Status, res.Body)
	}
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	api.Do(apitest.Request{Method: http.MethodGet, Path: fmt.Sprintf("/items?limit=1&owner_id=%d&sort=-price_cents", ada.ID)}).JSON(t, &page)
	cursor := page.NextCursor

	cases := []struct {
		req    apitest.Request
		status int
		want   []string
	}{
		{apitest.Request{Method: http.MethodGet, Path: fmt.Sprintf("/items/%d", item.ID)}, http.StatusOK,
			[]string{sqlSelectItem}},
		{apitest.Request{Method: http.MethodGet, Path: fmt.Sprintf("/items/%d", item.ID), Header: map[string]string{"If-None-Match": "*"}}, http.StatusNotModified,
			[]string{sqlSelectItem}},
		{apitest.Request{Method: http.MethodPatch, Path: fmt.Sprintf("/items/%d", item.ID), Body: `{"price_cents":5}`, Token: ada.Token}, http.StatusOK,
			[]string{sqlUserExists, sqlUpdateItem}},
		{apitest.Request{Method: http.MethodPut, Path: fmt.Sprintf("/items/%d", item.ID), Body: `{"price_cents":5}`, Token: ada.Token,
			Header: map[string]string{"If-Match": fmt.Sprintf(`"%d-1", "%d-2"`, item.ID, item.ID)}}, http.StatusPreconditionFailed,
			// A write that matched nothing asks why: the item exists and is
			// the caller's, so it has changed.
			[]string{sqlUserExists, sqlUpdateItemIfMatch, sqlSelectOwner}},
		{create, http.StatusCreated,
			[]string{sqlUserExists, sqlInsertItem}},
		// A page is two statements, the rows and the total, counted no
		// further than 10000; both are reads on the pool, with no
		// transaction around them. A filter that is not set is not in the
		// statement at all. A first page that holds every row has counted
		// them.
		{apitest.Request{Method: http.MethodGet, Path: "/items?limit=1"}, http.StatusOK,
			[]string{sqlSelectPage, sqlCountItems}},
		{apitest.Request{Method: http.MethodGet, Path: "/items?limit=20"}, http.StatusOK,
			[]string{sqlSelectPage}},
		{apitest.Request{Method: http.MethodGet, Path: fmt.Sprintf("/items?limit=1&owner_id=%d&sort=-price_cents", ada.ID)}, http.StatusOK,
			[]string{sqlOwnerPage, sqlOwnerCount}},
		{apitest.Request{Method: http.MethodGet, Path: fmt.Sprintf("/items?limit=1&owner_id=%d&sort=-price_cents&cursor=%s", ada.ID, url.QueryEscape(cursor))}, http.StatusOK,
			[]string{sqlCursorPage, sqlOwnerCount}},
		{apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: ada.Token}, http.StatusOK,
			[]string{sqlUserExists, sqlSelectUser}},
		// Routes that need no database send nothing.
		{apitest.Request{Method: http.MethodGet, Path: "/"}, http.StatusOK, nil},
	}
	for _, c := range cases {
		name := c.req.Method + " " + c.req.Path
		// The first request warms the pool's connection and its statement
		// cache; the second is what every later request costs.
		for range 2 {
			if res := api.Do(c.req); res.Status != c.status {
				t.Fatalf("%s: %d %s", name, res.Status, res.Body)
			}
		}
		rec.take()
		if res := api.Do(c.req); res.Status != c.status {
			t.Fatalf("%s: %d %s", name, res.Status, res.Body)
		}
		got := rec.take()
		if !slices.Equal(got, c.want) {
			t.Errorf("%s sent %d statement(s), want %d:\n got: %q\nwant: %q", name, len(got), len(c.want), got, c.want)
		}
		for _, s := range got {
			if verb, _, _ := strings.Cut(strings.ToUpper(s), " "); verb == "BEGIN" || verb == "COMMIT" || verb == "ROLLBACK" {
				t.Errorf("%s opened a transaction: %q", name, s)
			}
		}
	}
}
