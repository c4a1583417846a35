package controllers_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // TestItemsTimestampsInUTC runs the app in a named zone

	"github.com/example/apitemplate/internal/apitest"
)

// itemJSON is an item as the API shows it; timestamps stay strings so the
// exact text can be compared.
type itemJSON struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	OwnerID     int64  `json:"owner_id"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

type itemPageJSON struct {
	Items      []itemJSON `json:"items"`
	Limit      int        `json:"limit"`
	Offset     int        `json:"offset"`
	Total      int64      `json:"total"`
	TotalExact bool       `json:"total_exact"`
	NextCursor *string    `json:"next_cursor"`
}

var itemKeys = []string{"created_at", "description", "id", "name", "owner_id", "price_cents", "updated_at"}

// requireItemShape checks that raw is an item object with exactly the
// contract's members, UTC RFC 3339 timestamps and a positive id.
func requireItemShape(t *testing.T, raw []byte) itemJSON {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		t.Fatalf("item is not a JSON object (%v): %s", err, raw)
	}
	var keys []string
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !slices.Equal(keys, itemKeys) {
		t.Errorf("item members = %q, want %q", keys, itemKeys)
	}
	var it itemJSON
	if err := json.Unmarshal(raw, &it); err != nil {
		t.Fatalf("item does not decode (%v): %s", err, raw)
	}
	if it.ID < 1 || it.OwnerID < 1 {
		t.Errorf("item id %d, owner_id %d: want positive", it.ID, it.OwnerID)
	}
	created := requireUTCTime(t, "created_at", it.CreatedAt)
	updated := requireUTCTime(t, "updated_at", it.UpdatedAt)
	if updated.Before(created) {
		t.Errorf("updated_at %s is before created_at %s", it.UpdatedAt, it.CreatedAt)
	}
	return it
}

func requireUTCTime(t *testing.T, name, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Errorf("%s = %q is not RFC 3339: %v", name, s, err)
		return ts
	}
	if !strings.HasSuffix(s, "Z") {
		t.Errorf("%s = %q is not in UTC (no Z)", name, s)
	}
	if d := time.Since(ts); d < -time.Minute || d > time.Hour {
		t.Errorf("%s = %q is %s away from now", name, s, d)
	}
	return ts
}

func itemPath(id int64) string { return "/items/" + strconv.FormatInt(id, 10) }

// createItem posts an item and checks the 201 against a later GET.
func createItem(t *testing.T, api *apitest.API, token string, body any) itemJSON {
	t.Helper()
	res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Body: body, Token: token})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /items = %d %s, want 201", res.Status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	it := requireItemShape(t, res.Body)
	if loc := res.Header.Get("Location"); loc != itemPath(it.ID) {
		t.Errorf("Location = %q, want %q", loc, itemPath(it.ID))
	}
	requireSameAsGet(t, api, res.Body, it.ID)
	return it
}

// requireSameAsGet checks that what a write returned is byte for byte what
// a GET of the item returns now.
func requireSameAsGet(t *testing.T, api *apitest.API, written []byte, id int64) {
	t.Helper()
	got := api.Do(apitest.Request{Method: http.MethodGet, Path: itemPath(id)})
	if got.Status != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", itemPath(id), got.Status, got.Body)
	}
	if !bytes.Equal(got.Body, written) {
		t.Errorf("GET %s differs from what the write returned:\n write %s\n get   %s", itemPath(id), written, got.Body)
	}
}

func getItem(t *testing.T, api *apitest.API, id int64) []byte {
	t.Helper()
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: itemPath(id)})
	if res.Status != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", itemPath(id), res.Status, res.Body)
	}
	return res.Body
}

func countItems(t *testing.T, api *apitest.API) int {
	t.Helper()
	var n int
	if err := api.DB.Get(&n, `SELECT count(*) FROM items`); err != nil {
		t.Fatalf("count items: %v", err)
	}
	return n
}

func TestItemsCreate(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")

	t.Run("without a valid token", func(t *testing.T) {
		for _, token := range []string{"", "garbage", ada.Token + "x"} {
			res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Body: newItemBody(), Token: token})
			requireProblem(t, res, http.StatusUnauthorized, "/items")
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want Bearer", res.Header.Get("WWW-Authenticate"))
			}
		}
		if n := countItems(t, api); n != 0 {
			t.Errorf("items after refused creates = %d, want 0", n)
		}
	})

	t.Run("created", func(t *testing.T) {
		it := createItem(t, api, ada.Token, map[string]any{"name": "Teapot", "description": "Short and stout", "price_cents": 1999})
		want := itemJSON{ID: it.ID, Name: "Teapot", Description: "Short and stout", PriceCents: 1999, OwnerID: ada.ID,
			CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
		if it != want {
			t.Errorf("created %+v, want %+v", it, want)
		}
		var row struct {
			Name        string `db:"name"`
			Description string `db:"description"`
			PriceCents  int64  `db:"price_cents"`
			OwnerID     int64  `db:"owner_id"`
		}
		if err := api.DB.Get(&row, `SELECT name, description, price_cents, owner_id FROM items WHERE id = $1`, it.ID); err != nil {
			t.Fatalf("row: %v", err)
		}
		if row.Name != "Teapot" || row.Description != "Short and stout" || row.PriceCents != 1999 || row.OwnerID != ada.ID {
			t.Errorf("stored row = %+v", row)
		}
	})

	t.Run("owner is the caller, whatever the body says", func(t *testing.T) {
		bob := api.SignUp("bob@example.com", "Bob", "correct horse")
		it := createItem(t, api, bob.Token, map[string]any{
			"name": "Kettle", "price_cents": 5, "owner_id": ada.ID, "id": 999999,
			"created_at": "2000-01-01T00:00:00Z", "unknown": []int{1},
		})
		if it.OwnerID != bob.ID {
			t.Errorf("owner_id = %d, want the caller %d", it.OwnerID, bob.ID)
		}
		if it.ID == 999999 || strings.HasPrefix(it.CreatedAt, "2000") {
			t.Errorf("client-chosen id or created_at was stored: %+v", it)
		}
	})

	tests := []struct {
		name string
		body any
		want itemJSON // ID, owner and timestamps are not compared
	}{
		{"description defaults to empty", map[string]any{"name": "Cup", "price_cents": 100}, itemJSON{Name: "Cup", PriceCents: 100}},
		{"null description is empty", map[string]any{"name": "Cup", "description": nil, "price_cents": 100}, itemJSON{Name: "Cup", PriceCents: 100}},
		{"free item", map[string]any{"name": "Gift", "price_cents": 0}, itemJSON{Name: "Gift", PriceCents: 0}},
		{"most expensive", map[string]any{"name": "Yacht", "price_cents": int64(1_000_000_000_000)}, itemJSON{Name: "Yacht", PriceCents: 1_000_000_000_000}},
		{"one-character name", map[string]any{"name": "x", "price_cents": 1}, itemJSON{Name: "x", PriceCents: 1}},
		{"100 ASCII characters", map[string]any{"name": strings.Repeat("n", 100), "price_cents": 1}, itemJSON{Name: strings.Repeat("n", 100), PriceCents: 1}},
		{"100 two-byte characters", map[string]any{"name": strings.Repeat("é", 100), "price_cents": 1}, itemJSON{Name: strings.Repeat("é", 100), PriceCents: 1}},
		{"100 four-byte characters", map[string]any{"name": strings.Repeat("😀", 100), "price_cents": 1}, itemJSON{Name: strings.Repeat("😀", 100), PriceCents: 1}},
		{"1000-character description", map[string]any{"name": "Book", "description": strings.Repeat("ü", 1000), "price_cents": 1},
			itemJSON{Name: "Book", Description: strings.Repeat("ü", 1000), PriceCents: 1}},
		{"name is trimmed", map[string]any{"name": "  Mug \t", "price_cents": 1}, itemJSON{Name: "Mug", PriceCents: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			it := createItem(t, api, ada.Token, tt.body)
			tt.want.ID, tt.want.OwnerID, tt.want.CreatedAt, tt.want.UpdatedAt = it.ID, ada.ID, it.CreatedAt, it.UpdatedAt
			if it != tt.want {
				t.Errorf("created %+v, want %+v", it, tt.want)
			}
		})
	}
}

func TestItemsCreateValidation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")

	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"empty object", `{}`, []string{"name", "price_cents"}},
		{"null", `null`, []string{"name", "price_cents"}},
		{"missing price", `{"name":"Teapot"}`, []string{"price_cents"}},
		{"null price", `{"name":"Teapot","price_cents":null}`, []string{"price_cents"}},
		{"negative price", `{"name":"Teapot","price_cents":-1}`, []string{"price_cents"}},
		{"price over the limit", `{"name":"Teapot","price_cents":1000000000001}`, []string{"price_cents"}},
		{"price beyond int64", `{"name":"Teapot","price_cents":99999999999999999999}`, []string{"price_cents"}},
		{"fractional price", `{"name":"Teapot","price_cents":1.5}`, []string{"price_cents"}},
		{"price as a string", `{"name":"Teapot","price_cents":"12"}`, []string{"price_cents"}},
		{"price as a bool", `{"name":"Teapot","price_cents":true}`, []string{"price_cents"}},
		{"missing name", `{"price_cents":1}`, []string{"name"}},
		{"empty name", `{"name":"","price_cents":1}`, []string{"name"}},
		{"blank name", `{"name":"   ","price_cents":1}`, []string{"name"}},
		{"101-character name", `{"name":"` + strings.Repeat("n", 101) + `","price_cents":1}`, []string{"name"}},
		{"101 two-byte characters", `{"name":"` + strings.Repeat("é", 101) + `","price_cents":1}`, []string{"name"}},
		{"name as a number", `{"name":42,"price_cents":1}`, []string{"name"}},
		{"1001-character description", `{"name":"Teapot","description":"` + strings.Repeat("d", 1001) + `","price_cents":1}`, []string{"description"}},
		{"1001 two-byte description", `{"name":"Teapot","description":"` + strings.Repeat("ü", 1001) + `","price_cents":1}`, []string{"description"}},
		{"description as a number", `{"name":"Teapot","description":7,"price_cents":1}`, []string{"description"}},
		{"everything wrong", `{"name":"","description":"` + strings.Repeat("d", 1001) + `","price_cents":-5}`, []string{"name", "description", "price_cents"}},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Body: tt.body, Token: ada.Token})
				requireFieldErrors(t, res, "/items", tt.fields...)
			})
		}
	})
	if n := countItems(t, api); n != 0 {
		t.Errorf("items after refused creates = %d, want 0", n)
	}
}

func TestItemsGet(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	it := createItem(t, api, ada.Token, newItemBody())

	t.Run("anyone may read", func(t *testing.T) {
		t.Parallel()
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: itemPath(it.ID)})
		if res.Status != http.StatusOK {
			t.Fatalf("status = %d %s", res.Status, res.Body)
		}
		if got := requireItemShape(t, res.Body); got != it {
			t.Errorf("GET = %+v, want %+v", got, it)
		}
	})
	t.Run("with a token too", func(t *testing.T) {
		t.Parallel()
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: itemPath(it.ID), Token: ada.Token})
		if res.Status != http.StatusOK {
			t.Fatalf("status = %d %s", res.Status, res.Body)
		}
	})
	for _, id := range []string{"abc", "0", "-5", "1.5", "1e3", "0x10", "99999999999999999999", "%20"} {
		t.Run("bad id "+id, func(t *testing.T) {
			t.Parallel()
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/items/" + id})
			instance := "/items/" + id
			if id == "%20" {
				instance = "/items/ "
			}
			requireFieldErrors(t, res, instance, "id")
		})
	}
	for _, id := range []int64{it.ID + 1, 424242, 9223372036854775807} {
		t.Run(fmt.Sprintf("missing %d", id), func(t *testing.T) {
			t.Parallel()
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: itemPath(id)})
			requireProblem(t, res, http.StatusNotFound, itemPath(id))
		})
	}
}

func TestItemsList(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)

	list := func(t *testing.T, query string) (itemPageJSON, []byte) {
		t.Helper()
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/items" + query})
		if res.Status != http.StatusOK {
			t.Fatalf("GET /items%s = %d %s", query, res.Status, res.Body)
		}
		var members map[string]json.RawMessage
		res.JSON(t, &members)
		var keys []string
		for k := range members {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if want := []string{"items", "limit", "next_cursor", "offset", "total", "total_exact"}; !slices.Equal(keys, want) {
			t.Errorf("page members = %q, want %q", keys, want)
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(members["items"], &raws); err != nil || raws == nil {
			t.Fatalf("items = %s, want a JSON array", members["items"])
		}
		for _, raw := range raws {
			requireItemShape(t, raw)
		}
		var p itemPageJSON
		res.JSON(t, &p)
		return p, res.Body
	}

	t.Run("empty", func(t *testing.T) {
		p, body := list(t, "")
		if !bytes.Contains(body, []byte(`"items":[]`)) || p.Total != 0 || !p.TotalExact || p.Limit != 50 || p.Offset != 0 ||
			!bytes.Contains(body, []byte(`"next_cursor":null`)) {
			t.Errorf("empty list = %s, want items [] limit 50 offset 0 total 0, exact, next_cursor null", body)
		}
	})

	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	bob := api.SignUp("bob@example.com", "Bob", "correct horse")
	// Interleaved, so an owner's items are not a contiguous run of ids.
	var all, adas, bobs []itemJSON
	for i, u := range []apitest.User{ada, bob, ada, bob, ada} {
		it := createItem(t, api, u.Token, map[string]any{"name": fmt.Sprintf("item %d", i), "price_cents": i})
		all = append(all, it)
		if u.ID == ada.ID {
			adas = append(adas, it)
		} else {
			bobs = append(bobs, it)
		}
	}
	// A write to an early item must not move it in the order.
	res := api.Do(apitest.Request{Method: http.MethodPut, Path: itemPath(all[0].ID), Body: map[string]any{"name": "renamed"}, Token: ada.Token})
	if res.Status != http.StatusOK {
		t.Fatalf("PUT = %d %s", res.Status, res.Body)
	}
	all[0] = requireItemShape(t, res.Body)
	adas[0] = all[0]

	tests := []struct {
		query         string
		limit, offset int
		total         int64
		want          []itemJSON
	}{
		{"", 50, 0, 5, all},
		{"?limit=2", 2, 0, 5, all[:2]},
		{"?limit=2&offset=2", 2, 2, 5, all[2:4]},
		{"?offset=4", 50, 4, 5, all[4:]},
		{"?limit=2&offset=4", 2, 4, 5, all[4:]},
		{"?offset=5", 50, 5, 5, []itemJSON{}},
		{"?offset=10000", 50, 10000, 5, []itemJSON{}},
		{"?limit=1", 1, 0, 5, all[:1]},
		{"?limit=100", 100, 0, 5, all},
		{"?offset=0&limit=50", 50, 0, 5, all},
		{fmt.Sprintf("?owner_id=%d", ada.ID), 50, 0, 3, adas},
		{fmt.Sprintf("?owner_id=%d", bob.ID), 50, 0, 2, bobs},
		{fmt.Sprintf("?owner_id=%d&limit=1&offset=1", bob.ID), 1, 1, 2, bobs[1:]},
		{fmt.Sprintf("?owner_id=%d&limit=2&offset=1", ada.ID), 2, 1, 3, adas[1:]},
		{fmt.Sprintf("?owner_id=%d&offset=3", ada.ID), 50, 3, 3, []itemJSON{}},
		{"?owner_id=999999", 50, 0, 0, []itemJSON{}},
		{"?unknown=1", 50, 0, 5, all},
	}
	for _, tt := range tests {
		t.Run("query "+tt.query, func(t *testing.T) {
			t.Parallel()
			p, body := list(t, tt.query)
			if p.Limit != tt.limit || p.Offset != tt.offset || p.Total != tt.total || !p.TotalExact {
				t.Errorf("limit %d offset %d total %d exact %v, want %d %d %d exact", p.Limit, p.Offset, p.Total, p.TotalExact, tt.limit, tt.offset, tt.total)
			}
			if more := int64(tt.offset+len(tt.want)) < tt.total; more != (p.NextCursor != nil) {
				t.Errorf("next_cursor = %v, want one only when rows follow", p.NextCursor)
			}
			if len(tt.want) == 0 && !bytes.Contains(body, []byte(`"items":[]`)) {
				t.Errorf("an empty page must have items [], got %s", body)
			}
			if !slices.Equal(p.Items, tt.want) {
				t.Errorf("items =\n %+v\nwant\n %+v", p.Items, tt.want)
			}
		})
	}
}

// TestItemsListOrder stores rows out of id order, so only an explicit ORDER
// BY id gives the contract's order.
func TestItemsListOrder(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	for _, id := range []int{500, 100, 300, 200, 400} {
		_, err := api.DB.Exec(`INSERT INTO items (id, name, price_cents, owner_id) OVERRIDING SYSTEM VALUE VALUES ($1, $2, 1, $3)`,
			id, fmt.Sprintf("item %d", id), ada.ID)
		if err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	for _, q := range []string{"", "?limit=3", "?offset=1", fmt.Sprintf("?owner_id=%d", ada.ID)} {
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/items" + q})
		var p itemPageJSON
		res.JSON(t, &p)
		var ids []int64
		for _, it := range p.Items {
			ids = append(ids, it.ID)
		}
		if !slices.IsSorted(ids) || len(ids) == 0 {
			t.Errorf("GET /items%s ids = %v, want ascending", q, ids)
		}
	}
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/items?limit=2&offset=1"})
	var p itemPageJSON
	res.JSON(t, &p)
	if len(p.Items) != 2 || p.Items[0].ID != 200 || p.Items[1].ID != 300 {
		t.Errorf("limit=2&offset=1 = %+v, want ids 200, 300", p.Items)
	}
}

func TestItemsListValidation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	tests := []struct {
		query  string
		fields []string
	}{
		{"limit=0", []string{"limit"}},
		{"limit=101", []string{"limit"}},
		{"limit=-1", []string{"limit"}},
		{"limit=abc", []string{"limit"}},
		{"limit=1.5", []string{"limit"}},
		{"limit=", []string{"limit"}},
		{"limit=99999999999999999999", []string{"limit"}},
		{"offset=-1", []string{"offset"}},
		{"offset=x", []string{"offset"}},
		{"offset=2.0", []string{"offset"}},
		{"owner_id=0", []string{"owner_id"}},
		{"owner_id=-3", []string{"owner_id"}},
		{"owner_id=abc", []string{"owner_id"}},
		{"owner_id=", []string{"owner_id"}},
		{"limit=0&offset=-1", []string{"limit", "offset"}},
		{"limit=abc&offset=-1&owner_id=0", []string{"limit", "offset", "owner_id"}},
		{"limit=x&offset=y&owner_id=z", []string{"limit", "offset", "owner_id"}},
		{"limit=500&offset=x&owner_id=1", []string{"limit", "offset"}},
		{"offset=10001", []string{"offset"}},
		{"offset=99999999999999999999", []string{"offset"}},
		{"sort=owner_id", []string{"sort"}},
		{"sort=", []string{"sort"}},
		{"sort=--id", []string{"sort"}},
		{"sort=ID", []string{"sort"}},
		{"min_price_cents=-1", []string{"min_price_cents"}},
		{"max_price_cents=1000000000001", []string{"max_price_cents"}},
		{"min_price_cents=x&max_price_cents=y", []string{"min_price_cents", "max_price_cents"}},
		{"min_price_cents=5&max_price_cents=4", []string{"min_price_cents"}},
		{"q=", []string{"q"}},
		{"q=" + strings.Repeat("é", 101), []string{"q"}},
		{"cursor=garbage", []string{"cursor"}},
		{"cursor=eyJ2IjoiIiwiaSI6MX0.AAAAAAAAAAAAAAAAAAAAAA", []string{"cursor"}},
		{"cursor=garbage&offset=0", []string{"cursor"}},
		{"limit=0&sort=x&owner_id=0&q=", []string{"limit", "sort", "owner_id", "q"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/items?" + tt.query})
			requireFieldErrors(t, res, "/items", tt.fields...)
		})
	}
}

// The offset's limit says where to go instead.
func TestItemsListOffsetPointsToTheCursor(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/items?offset=10001"})
	p := requireProblem(t, res, http.StatusBadRequest, "/items")
	if len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Message, "cursor") {
		t.Fatalf("errors = %+v, want one for offset that mentions the cursor", p.Errors)
	}
}

// Following next_cursor from the first page, with any limit, visits every
// matching item once in the order asked for; a cursor works only with the
// sort and filters it was made for, and never with an offset.
func TestItemsListCursor(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	bob := api.SignUp("bob@example.com", "Bob", "correct horse")
	var all []itemJSON
	for i := range 13 {
		owner := ada
		if i%3 == 0 {
			owner = bob
		}
		all = append(all, createItem(t, api, owner.Token, map[string]any{
			"name": fmt.Sprintf("Lamp %c", 'a'+i%4), "price_cents": (i % 5) * 250,
		}))
	}
	get := func(t *testing.T, query string) itemPageJSON {
		t.Helper()
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/items?" + query})
		if res.Status != http.StatusOK {
			t.Fatalf("GET /items?%s = %d %s", query, res.Status, res.Body)
		}
		var p itemPageJSON
		res.JSON(t, &p)
		return p
	}
	walk := func(t *testing.T, filters string) []int64 {
		t.Helper()
		var ids []int64
		p := get(t, filters+"&limit=4")
		for limit := 3; ; limit++ {
			for _, it := range p.Items {
				ids = append(ids, it.ID)
			}
			if p.NextCursor == nil {
				return ids
			}
			p = get(t, filters+fmt.Sprintf("&limit=%d&cursor=", limit)+url.QueryEscape(*p.NextCursor))
			if p.Offset != 0 {
				t.Fatalf("a page by cursor has offset %d, want 0", p.Offset)
			}
		}
	}
	order := func(sortBy string, desc bool, match func(itemJSON) bool) []int64 {
		items := slices.Clone(all)
		slices.SortStableFunc(items, func(a, b itemJSON) int {
			c := 0
			switch sortBy {
			case "price_cents":
				c = cmp.Compare(a.PriceCents, b.PriceCents)
			case "name":
				c = strings.Compare(a.Name, b.Name)
			case "created_at":
				c = strings.Compare(a.CreatedAt, b.CreatedAt)
			}
			c = cmp.Or(c, cmp.Compare(a.ID, b.ID))
			if desc {
				return -c
			}
			return c
		})
		var ids []int64
		for _, it := range items {
			if match(it) {
				ids = append(ids, it.ID)
			}
		}
		return ids
	}
	everything := func(itemJSON) bool { return true }
	for _, tt := range []struct {
		query  string
		sortBy string
		desc   bool
		match  func(itemJSON) bool
	}{
		{"sort=id", "id", false, everything},
		{"sort=-id", "id", true, everything},
		{"sort=price_cents", "price_cents", false, everything},
		{"sort=-price_cents", "price_cents", true, everything},
		{"sort=name", "name", false, everything},
		{"sort=-name", "name", true, everything},
		{"sort=-created_at", "created_at", true, everything},
		{fmt.Sprintf("sort=-price_cents&owner_id=%d", ada.ID), "price_cents", true, func(it itemJSON) bool { return it.OwnerID == ada.ID }},
		{"sort=name&min_price_cents=250&max_price_cents=750", "name", false, func(it itemJSON) bool { return it.PriceCents >= 250 && it.PriceCents <= 750 }},
		{"q=LAMP%20B&sort=-id", "id", true, func(it itemJSON) bool { return it.Name == "Lamp b" }},
	} {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			if got, want := walk(t, tt.query), order(tt.sortBy, tt.desc, tt.match); !slices.Equal(got, want) {
				t.Fatalf("visited %v, want %v", got, want)
			}
		})
	}

	first := get(t, "sort=price_cents&limit=2")
	cursor := url.QueryEscape(*first.NextCursor)
	for _, query := range []string{
		"sort=-price_cents&cursor=" + cursor,
		"cursor=" + cursor,
		"sort=price_cents&owner_id=1&cursor=" + cursor,
		"sort=price_cents&q=lamp&cursor=" + cursor,
		"sort=price_cents&offset=0&cursor=" + cursor,
		"sort=price_cents&cursor=" + cursor[:len(cursor)-2],
		"sort=price_cents&cursor=x" + cursor,
	} {
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/items?" + query})
		requireFieldErrors(t, res, "/items", "cursor")
	}
}

func TestItemsUpdate(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	bob := api.SignUp("bob@example.com", "Bob", "correct horse")
	orig := createItem(t, api, ada.Token, map[string]any{"name": "Teapot", "description": "Short and stout", "price_cents": 1999})
	path := itemPath(orig.ID)

	t.Run("partial updates", func(t *testing.T) {
		cur := orig
		steps := []struct {
			name  string
			body  any
			apply func(*itemJSON)
		}{
			{"name only", map[string]any{"name": "Kettle"}, func(it *itemJSON) { it.Name = "Kettle" }},
			{"description only", map[string]any{"description": "Whistles"}, func(it *itemJSON) { it.Description = "Whistles" }},
			{"price only", map[string]any{"price_cents": 2500}, func(it *itemJSON) { it.PriceCents = 2500 }},
			{"price to zero", map[string]any{"price_cents": 0}, func(it *itemJSON) { it.PriceCents = 0 }},
			{"description to empty", map[string]any{"description": ""}, func(it *itemJSON) { it.Description = "" }},
			{"nothing", map[string]any{}, func(*itemJSON) {}},
			{"unknown fields only", map[string]any{"color": "blue", "owner_id": bob.ID, "id": 1}, func(*itemJSON) {}},
			{"nulls keep values", json.RawMessage(`{"name":null,"description":null,"price_cents":null}`), func(*itemJSON) {}},
			{"trimmed name", map[string]any{"name": "  Pot  "}, func(it *itemJSON) { it.Name = "Pot" }},
			{"all fields", map[string]any{"name": strings.Repeat("é", 100), "description": strings.Repeat("ü", 1000), "price_cents": int64(1_000_000_000_000)},
				func(it *itemJSON) {
					it.Name, it.Description, it.PriceCents = strings.Repeat("é", 100), strings.Repeat("ü", 1000), 1_000_000_000_000
				}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				time.Sleep(2 * time.Millisecond) // timestamps have microsecond precision
				res := api.Do(apitest.Request{Method: http.MethodPut, Path: path, Body: st.body, Token: ada.Token})
				if res.Status != http.StatusOK {
					t.Fatalf("PUT = %d %s, want 200", res.Status, res.Body)
				}
				got := requireItemShape(t, res.Body)
				want := cur
				st.apply(&want)
				want.UpdatedAt = got.UpdatedAt
				if got != want {
					t.Errorf("PUT %s =\n %+v\nwant\n %+v", st.name, got, want)
				}
				if got.CreatedAt != orig.CreatedAt {
					t.Errorf("created_at moved: %s -> %s", orig.CreatedAt, got.CreatedAt)
				}
				before, _ := time.Parse(time.RFC3339Nano, cur.UpdatedAt)
				after, _ := time.Parse(time.RFC3339Nano, got.UpdatedAt)
				if !after.After(before) {
					t.Errorf("updated_at did not move forward: %s -> %s", cur.UpdatedAt, got.UpdatedAt)
				}
				requireSameAsGet(t, api, res.Body, orig.ID)
				cur = got
			})
		}
	})

	t.Run("refused", func(t *testing.T) {
		before := getItem(t, api, orig.ID)
		tests := []struct {
			name   string
			path   string
			token  string
			body   string
			status int
			fields []string
		}{
			{"no token", path, "", `{"name":"x"}`, 401, nil},
			{"bad token", path, "nope", `{"name":"x"}`, 401, nil},
			{"no token, missing item", itemPath(424242), "", `{"name":"x"}`, 401, nil},
			{"someone else's", path, bob.Token, `{"name":"Mine now"}`, 403, nil},
			{"someone else's, empty change", path, bob.Token, `{}`, 403, nil},
			{"missing, as a user with items", itemPath(orig.ID + 1000), ada.Token, `{"name":"x"}`, 404, nil},
			{"missing, as a user without items", itemPath(orig.ID + 1000), bob.Token, `{"name":"x"}`, 404, nil},
			{"missing, empty change", itemPath(424242), bob.Token, `{}`, 404, nil},
			{"id abc", "/items/abc", ada.Token, `{"name":"x"}`, 400, []string{"id"}},
			{"id 0", "/items/0", ada.Token, `{"name":"x"}`, 400, []string{"id"}},
			{"id -5", "/items/-5", ada.Token, `{"name":"x"}`, 400, []string{"id"}},
			{"empty name", path, ada.Token, `{"name":""}`, 400, []string{"name"}},
			{"blank name", path, ada.Token, `{"name":"  "}`, 400, []string{"name"}},
			{"101-character name", path, ada.Token, `{"name":"` + strings.Repeat("é", 101) + `"}`, 400, []string{"name"}},
			{"1001-character description", path, ada.Token, `{"description":"` + strings.Repeat("d", 1001) + `"}`, 400, []string{"description"}},
			{"negative price", path, ada.Token, `{"price_cents":-1}`, 400, []string{"price_cents"}},
			{"price over the limit", path, ada.Token, `{"price_cents":1000000000001}`, 400, []string{"price_cents"}},
			{"fractional price", path, ada.Token, `{"price_cents":1.5}`, 400, []string{"price_cents"}},
			{"price as a string", path, ada.Token, `{"price_cents":"12"}`, 400, []string{"price_cents"}},
			{"name as a number", path, ada.Token, `{"name":1}`, 400, []string{"name"}},
			{"several bad fields", path, ada.Token, `{"name":"","price_cents":-1}`, 400, []string{"name", "price_cents"}},
			{"valid and invalid fields", path, ada.Token, `{"name":"Fine","price_cents":-1}`, 400, []string{"price_cents"}},
		}
		t.Run("cases", func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					res := api.Do(apitest.Request{Method: http.MethodPut, Path: tt.path, Body: tt.body, Token: tt.token})
					if tt.status == http.StatusBadRequest {
						requireFieldErrors(t, res, tt.path, tt.fields...)
						return
					}
					requireProblem(t, res, tt.status, tt.path)
				})
			}
		})
		if after := getItem(t, api, orig.ID); !bytes.Equal(after, before) {
			t.Errorf("a refused PUT changed the item:\n before %s\n after  %s", before, after)
		}
	})
}

func TestItemsDelete(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	bob := api.SignUp("bob@example.com", "Bob", "correct horse")
	it := createItem(t, api, ada.Token, newItemBody())
	other := createItem(t, api, ada.Token, map[string]any{"name": "Other", "price_cents": 1})
	path := itemPath(it.ID)

	refused := []struct {
		name   string
		path   string
		token  string
		status int
	}{
		{"no token", path, "", 401},
		{"bad token", path, "nope", 401},
		{"someone else's", path, bob.Token, 403},
		{"missing, as a user with items", itemPath(it.ID + 1000), ada.Token, 404},
		{"missing, as a user without items", itemPath(it.ID + 1000), bob.Token, 404},
		{"id abc", "/items/abc", ada.Token, 400},
		{"id 0", "/items/0", ada.Token, 400},
		{"id -5", "/items/-5", ada.Token, 400},
	}
	t.Run("refused", func(t *testing.T) {
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res := api.Do(apitest.Request{Method: http.MethodDelete, Path: tt.path, Token: tt.token})
				if tt.status == http.StatusBadRequest {
					requireFieldErrors(t, res, tt.path, "id")
					return
				}
				requireProblem(t, res, tt.status, tt.path)
			})
		}
	})
	if n := countItems(t, api); n != 2 {
		t.Fatalf("items after refused deletes = %d, want 2", n)
	}

	res := api.Do(apitest.Request{Method: http.MethodDelete, Path: path, Token: ada.Token})
	if res.Status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s, want 204", res.Status, res.Body)
	}
	if len(res.Body) != 0 {
		t.Errorf("204 has a body: %q", res.Body)
	}
	requireProblem(t, api.Do(apitest.Request{Method: http.MethodGet, Path: path}), http.StatusNotFound, path)
	requireProblem(t, api.Do(apitest.Request{Method: http.MethodDelete, Path: path, Token: ada.Token}), http.StatusNotFound, path)
	requireProblem(t, api.Do(apitest.Request{Method: http.MethodDelete, Path: path, Token: bob.Token}), http.StatusNotFound, path)
	requireProblem(t, api.Do(apitest.Request{Method: http.MethodPut, Path: path, Body: `{}`, Token: ada.Token}), http.StatusNotFound, path)

	var p itemPageJSON
	api.Do(apitest.Request{Method: http.MethodGet, Path: "/items"}).JSON(t, &p)
	if p.Total != 1 || len(p.Items) != 1 || p.Items[0] != other {
		t.Errorf("list after delete = %+v, want only %+v", p, other)
	}
	if got := getItem(t, api, other.ID); !bytes.Equal(got, getItem(t, api, other.ID)) || requireItemShape(t, got) != other {
		t.Errorf("deleting one item touched another: %s", got)
	}
}

// TestItemsTimestampsInUTC runs itself again in a process whose local zone
// is not UTC, where a timestamp that is not converted shows its offset.
func TestItemsTimestampsInUTC(t *testing.T) {
	t.Parallel()
	const childEnv = "ITEMS_TZ_CHILD"
	if os.Getenv(childEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestItemsTimestampsInUTC$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"=1", "TZ=Asia/Kolkata")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestItemsTimestampsInUTC")) {
			t.Fatalf("in TZ=Asia/Kolkata: %v\n%s", err, out)
		}
		return
	}
	if _, offset := time.Now().Zone(); offset == 0 {
		t.Fatalf("the local zone is %s, want one with an offset", time.Local)
	}
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	it := createItem(t, api, ada.Token, newItemBody())
	res := api.Do(apitest.Request{Method: http.MethodPut, Path: itemPath(it.ID), Body: map[string]any{"name": "Kettle"}, Token: ada.Token})
	if res.Status != http.StatusOK {
		t.Fatalf("PUT = %d %s", res.Status, res.Body)
	}
	requireItemShape(t, res.Body)
	var p struct {
		Items []json.RawMessage `json:"items"`
	}
	api.Do(apitest.Request{Method: http.MethodGet, Path: "/items"}).JSON(t, &p)
	if len(p.Items) != 1 {
		t.Fatalf("list has %d items, want 1", len(p.Items))
	}
	requireItemShape(t, p.Items[0])
}
