package repositories_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/internal/apitest"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// seedItems adds n items of owner with names and prices that repeat, so
// that sorts have ties to break by id.
func seedItems(t *testing.T, s store, owner int64, n int) {
	t.Helper()
	_, err := s.db.ExecContext(context.Background(), `
		INSERT INTO items (name, description, price_cents, owner_id, created_at)
		SELECT 'item ' || (i % 7), '', (i % 5) * 100, $1, now() - (i % 3) * interval '1 second'
		FROM generate_series(1, $2) AS i`, owner, n)
	if err != nil {
		t.Fatal(err)
	}
}

func newOwner(t *testing.T, s store, email string) int64 {
	t.Helper()
	u, err := s.users.Create(context.Background(), services.NewUser{Email: email, Name: "Owner", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// inOrder is what a list must return: the items f matches, sorted by
// sort, ties by id in the same direction.
func inOrder(all []services.Item, sort services.Sort, match func(services.Item) bool) []int64 {
	var ids []int64
	items := slices.Clone(all)
	slices.SortFunc(items, func(a, b services.Item) int {
		var c int
		switch sort.Field {
		case "created_at":
			c = a.CreatedAt.Compare(b.CreatedAt)
		case "price_cents":
			c = cmp.Compare(a.PriceCents, b.PriceCents)
		case "name":
			c = strings.Compare(a.Name, b.Name)
		}
		c = cmp.Or(c, cmp.Compare(a.ID, b.ID))
		if sort.Desc {
			c = -c
		}
		return c
	})
	for _, it := range items {
		if match(it) {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

func allItems(t *testing.T, s store) []services.Item {
	t.Helper()
	var items []services.Item
	var after *services.Cursor
	for {
		page, err := s.items.List(context.Background(), services.ItemFilter{}, services.Page{Limit: 100, Sort: services.Sort{Field: "id"}, After: after})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, page.Items...)
		if page.Next == nil {
			return items
		}
		after = page.Next
	}
}

// Following the cursor from the first page visits every matching row once,
// in order, for every sort and filter; so does paging by offset.
func TestListPagesVisitEveryRowOnce(t *testing.T) {
	s := newStore(t, 4, 5*time.Second)
	ann, bob := newOwner(t, s, "ann@example.com"), newOwner(t, s, "bob@example.com")
	seedItems(t, s, ann, 40)
	seedItems(t, s, bob, 17)
	all := allItems(t, s)
	if len(all) != 57 {
		t.Fatalf("seeded %d items, want 57", len(all))
	}
	lo, hi, name := int64(100), int64(300), "item 3"
	filters := []struct {
		name   string
		filter services.ItemFilter
		match  func(services.Item) bool
	}{
		{"none", services.ItemFilter{}, func(services.Item) bool { return true }},
		{"owner", services.ItemFilter{OwnerID: &bob}, func(it services.Item) bool { return it.OwnerID == bob }},
		{"price range", services.ItemFilter{MinPriceCents: &lo, MaxPriceCents: &hi}, func(it services.Item) bool {
			return it.PriceCents >= lo && it.PriceCents <= hi
		}},
		{"name contains", services.ItemFilter{NameContains: &name}, func(it services.Item) bool { return strings.Contains(it.Name, name) }},
	}
	for _, field := range []string{"id", "created_at", "price_cents", "name"} {
		for _, desc := range []bool{false, true} {
			for _, f := range filters {
				sort := services.Sort{Field: field, Desc: desc}
				t.Run(fmt.Sprintf("%s desc=%v filter=%s", field, desc, f.name), func(t *testing.T) {
					want := inOrder(all, sort, f.match)
					var byCursor, byOffset []int64
					var after *services.Cursor
					for pages := 0; ; pages++ {
						page, err := s.items.List(context.Background(), f.filter, services.Page{Limit: 7, Sort: sort, After: after})
						if err != nil {
							t.Fatal(err)
						}
						if page.Total != int64(len(want)) || !page.TotalExact || page.Offset != 0 {
							t.Fatalf("total %d exact %v offset %d; want %d exact, offset 0", page.Total, page.TotalExact, page.Offset, len(want))
						}
						for _, it := range page.Items {
							byCursor = append(byCursor, it.ID)
						}
						if page.Next == nil {
							break
						}
						after = page.Next
					}
					for offset := 0; offset < len(want)+7; offset += 7 {
						page, err := s.items.List(context.Background(), f.filter, services.Page{Limit: 7, Offset: offset, Sort: sort})
						if err != nil {
							t.Fatal(err)
						}
						if page.Offset != offset || (page.Next == nil) != (offset+7 >= len(want)) {
							t.Fatalf("at offset %d: offset %d, next %v", offset, page.Offset, page.Next)
						}
						for _, it := range page.Items {
							byOffset = append(byOffset, it.ID)
						}
					}
					if !slices.Equal(byCursor, want) || !slices.Equal(byOffset, want) {
						t.Fatalf("by cursor %v\nby offset %v\nwant      %v", byCursor, byOffset, want)
					}
				})
			}
		}
	}
}

// Rows written between pages: one deleted before its page is skipped, one
// added after the cursor appears, and nothing is seen twice.
func TestListCursorIsStableWhileRowsChange(t *testing.T) {
	s := newStore(t, 4, 5*time.Second)
	ann := newOwner(t, s, "ann@example.com")
	seedItems(t, s, ann, 30)
	sort := services.Sort{Field: "price_cents", Desc: true}
	first, err := s.items.List(context.Background(), services.ItemFilter{}, services.Page{Limit: 10, Sort: sort})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, it := range first.Items {
		seen[it.ID] = true
	}
	rest := inOrder(allItems(t, s), sort, func(it services.Item) bool { return !seen[it.ID] })
	deleted := rest[3]
	if err := s.items.Delete(context.Background(), deleted, services.WriteCondition{OwnerID: &ann}); err != nil {
		t.Fatal(err)
	}
	cheap, err := s.items.Create(context.Background(), services.NewItem{Name: "cheap", PriceCents: 0, OwnerID: ann})
	if err != nil {
		t.Fatal(err)
	}
	after := first.Next
	var visited []int64
	for after != nil {
		page, err := s.items.List(context.Background(), services.ItemFilter{}, services.Page{Limit: 10, Sort: sort, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			if seen[it.ID] {
				t.Fatalf("item %d visited twice", it.ID)
			}
			seen[it.ID] = true
			visited = append(visited, it.ID)
		}
		after = page.Next
	}
	if seen[deleted] || !seen[cheap.ID] || len(visited) != len(rest) {
		t.Fatalf("visited %v after the first page; want %v without %d and with %d", visited, rest, deleted, cheap.ID)
	}
}

// Totals are exact up to services.MaxCount, whether counted or read off a
// page that reached the end of the list.
func TestListTotalIsCountedUpToMaxCount(t *testing.T) {
	s := newStore(t, 4, 5*time.Second)
	ann, bob := newOwner(t, s, "ann@example.com"), newOwner(t, s, "bob@example.com")
	seedItems(t, s, ann, services.MaxCount+5)
	seedItems(t, s, bob, 3)
	tests := []struct {
		name          string
		filter        services.ItemFilter
		limit, offset int
		total         int64
		exact         bool
	}{
		{"all, counted", services.ItemFilter{}, 1, 0, services.MaxCount, false},
		{"all, the last page", services.ItemFilter{}, 100, services.MaxOffset, services.MaxCount, false},
		{"many, counted", services.ItemFilter{OwnerID: &ann}, 1, 0, services.MaxCount, false},
		{"many, the last page", services.ItemFilter{OwnerID: &ann}, 20, services.MaxCount - 10, services.MaxCount, false},
		{"few, counted", services.ItemFilter{OwnerID: &bob}, 1, 0, 3, true},
		{"few, on one page", services.ItemFilter{OwnerID: &bob}, 20, 0, 3, true},
		{"few, the last page", services.ItemFilter{OwnerID: &bob}, 1, 2, 3, true},
		{"few, past the end", services.ItemFilter{OwnerID: &bob}, 1, 5, 3, true},
	}
	for _, tt := range tests {
		page, err := s.items.List(context.Background(), tt.filter, services.Page{Limit: tt.limit, Offset: tt.offset, Sort: services.Sort{Field: "id"}})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != tt.total || page.TotalExact != tt.exact {
			t.Errorf("%s: total %d exact %v, want %d %v", tt.name, page.Total, page.TotalExact, tt.total, tt.exact)
		}
	}
}

// The characters LIKE treats specially are plain characters in q.
func TestListContainsIsLiteral(t *testing.T) {
	s := newStore(t, 4, 5*time.Second)
	ann := newOwner(t, s, "ann@example.com")
	for _, name := range []string{`100% cotton`, `1000 cotton`, `a_b`, `axb`, `back\slash`, `BACK\SLASH`, `backslash`} {
		if _, err := s.items.Create(context.Background(), services.NewItem{Name: name, OwnerID: ann}); err != nil {
			t.Fatal(err)
		}
	}
	for q, want := range map[string][]string{
		`0%`:       {`100% cotton`},
		`a_b`:      {`a_b`},
		`k\s`:      {`back\slash`, `BACK\SLASH`},
		`COTTON`:   {`100% cotton`, `1000 cotton`},
		`%`:        {`100% cotton`},
		`_`:        {`a_b`},
		`nothing`:  nil,
		`ack\slas`: {`back\slash`, `BACK\SLASH`},
	} {
		page, err := s.items.List(context.Background(), services.ItemFilter{NameContains: &q}, services.Page{Limit: 10, Sort: services.Sort{Field: "id"}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range page.Items {
			got = append(got, it.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("q=%q: %q, want %q", q, got, want)
		}
	}
	for q, want := range map[string]int64{"ann@": 1, "OWNER": 1, "%": 0} {
		page, err := s.users.List(context.Background(), services.UserFilter{Contains: &q}, services.Page{Limit: 10, Sort: services.Sort{Field: "id"}})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != want {
			t.Errorf("users q=%q: %d, want %d", q, page.Total, want)
		}
	}
}

// statementLog keeps every statement, with its arguments, that a pool sends.
type statementLog struct {
	mu    sync.Mutex
	sent  []sentStatement
	track bool
}

type sentStatement struct {
	sql  string
	args []any
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.track {
		l.sent = append(l.sent, sentStatement{data.SQL, data.Args})
	}
	return ctx
}

func (l *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (l *statementLog) take() []sentStatement {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sent
	l.sent = nil
	return s
}

// planRows is, in an EXPLAIN ANALYZE plan, every row its scans read,
// those they filtered out included: what the statement costs, whatever the
// table's size.
func planRows(plan map[string]any) float64 {
	var rows float64
	if strings.HasSuffix(plan["Node Type"].(string), "Scan") {
		loops, _ := plan["Actual Loops"].(float64)
		r, _ := plan["Actual Rows"].(float64)
		removed, _ := plan["Rows Removed by Filter"].(float64)
		rechecked, _ := plan["Rows Removed by Index Recheck"].(float64)
		rows += (r + removed + rechecked) * max(loops, 1)
	}
	children, _ := plan["Plans"].([]any)
	for _, c := range children {
		rows += planRows(c.(map[string]any))
	}
	return rows
}

// On a table of many rows, every list statement reads only about the rows
// it returns, or, for the total, at most one past services.MaxCount: the
// first page, a page by cursor, each sort, each filter. None reads the
// table through.
func TestListStatementsReadOnlyTheirRows(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a hundred thousand rows")
	}
	log := &statementLog{}
	cfg, err := pgx.ParseConfig(apitest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tracer = log
	db := sqlx.NewDb(stdlib.OpenDB(*cfg), "pgx")
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(2)
	data := repositories.NewData(db, time.Minute)
	s := store{db: db, data: data, users: repositories.NewUserRepository(data), items: repositories.NewItemRepository(data)}
	owners := make([]int64, 100)
	for i := range owners {
		owners[i] = newOwner(t, s, "owner"+strconv.Itoa(i)+"@example.com")
	}
	const n = 100000
	_, err = db.ExecContext(context.Background(), `
		INSERT INTO items (name, description, price_cents, owner_id, created_at)
		SELECT md5(i::text), '', (i * 7919) % 1000000, ($1::bigint[])[1 + i % 100], now() - i * interval '1 second'
		FROM generate_series(1, $2) AS i`, owners, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(context.Background(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	// q is selective: ten characters of one row's name.
	var q string
	if err := db.GetContext(context.Background(), &q, "SELECT substr(md5('12345'), 5, 10)"); err != nil {
		t.Fatal(err)
	}
	owner, lo, hi := owners[42], int64(1000), int64(2000)
	cursor := &services.Cursor{Value: "", ID: n / 2}
	cases := []struct {
		name   string
		filter services.ItemFilter
		page   services.Page
	}{
		{"first page", services.ItemFilter{}, services.Page{Limit: 20, Sort: services.Sort{Field: "id"}}},
		{"page by cursor", services.ItemFilter{}, services.Page{Limit: 20, Sort: services.Sort{Field: "id"}, After: cursor}},
		{"deepest offset", services.ItemFilter{}, services.Page{Limit: 20, Offset: services.MaxOffset, Sort: services.Sort{Field: "id"}}},
		{"by owner", services.ItemFilter{OwnerID: &owner}, services.Page{Limit: 20, Sort: services.Sort{Field: "id"}}},
		{"by price range", services.ItemFilter{MinPriceCents: &lo, MaxPriceCents: &hi}, services.Page{Limit: 20, Sort: services.Sort{Field: "price_cents"}}},
		{"by name", services.ItemFilter{NameContains: &q}, services.Page{Limit: 20, Sort: services.Sort{Field: "id"}}},
	}
	for _, field := range []string{"created_at", "price_cents", "name"} {
		for _, desc := range []bool{false, true} {
			cases = append(cases, struct {
				name   string
				filter services.ItemFilter
				page   services.Page
			}{fmt.Sprintf("sorted by %s desc=%v", field, desc), services.ItemFilter{}, services.Page{Limit: 20, Sort: services.Sort{Field: field, Desc: desc}}})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log.track = true
			page, err := s.items.List(context.Background(), c.filter, c.page)
			log.track = false
			if err != nil {
				t.Fatal(err)
			}
			if page.Next != nil && c.page.After == nil {
				// The cursor the page gave, followed, costs no more.
				if _, err := s.items.List(context.Background(), c.filter, services.Page{Limit: 20, Sort: c.page.Sort, After: page.Next}); err != nil {
					t.Fatal(err)
				}
			}
			for _, st := range log.take() {
				var plan []struct {
					Plan map[string]any `json:"Plan"`
				}
				var raw []byte
				if err := db.GetContext(context.Background(), &raw, "EXPLAIN (ANALYZE, FORMAT JSON) "+st.sql, st.args...); err != nil {
					t.Fatalf("explain %s: %v", st.sql, err)
				}
				if err := json.Unmarshal(raw, &plan); err != nil {
					t.Fatal(err)
				}
				rows := planRows(plan[0].Plan)
				limit := float64(c.page.Offset + c.page.Limit + 1)
				if strings.HasPrefix(st.sql, "SELECT count(*)") {
					limit = services.MaxCount + 1
				}
				// An index scan that filters reads a few rows more than it
				// returns; a plan that reads the table reads all of them.
				if rows > limit*1.5+200 {
					t.Errorf("%s reads %.0f rows, want about %.0f at most:\n%s", st.sql, rows, limit, raw)
				}
			}
		})
	}
}

// A filtered list is never run with PostgreSQL's generic plan, the one a
// prepared statement switches to after five runs, made without knowing how
// many rows the filter's value keeps. On one connection, each filtered list
// runs ten times; none of its statements may have been run generically.
func TestFilteredListsArePlannedForTheirValues(t *testing.T) {
	s := newStore(t, 1, time.Minute)
	owner := newOwner(t, s, "owner@example.com")
	_, err := s.db.ExecContext(context.Background(), `
		INSERT INTO items (name, description, price_cents, owner_id)
		SELECT 'item ' || left(md5(i::text), 8), '', (i * 7919) % 1000000, $1
		FROM generate_series(1, 10000) AS i`, owner)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(context.Background(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	rare := "c4ca4238" // md5("1")'s first eight characters: one row's name
	lo, hi := int64(1000), int64(2000)
	byID := services.Page{Limit: 20, Sort: services.Sort{Field: "id"}}
	cases := []struct {
		name   string
		filter services.ItemFilter
	}{
		{"name contains", services.ItemFilter{NameContains: &rare}},
		{"owner", services.ItemFilter{OwnerID: &owner}},
		{"price range", services.ItemFilter{MinPriceCents: &lo, MaxPriceCents: &hi}},
	}
	for _, c := range cases {
		for range 10 {
			if _, err := s.items.List(context.Background(), c.filter, byID); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
	}
	for range 10 {
		if _, err := s.users.List(context.Background(), services.UserFilter{Contains: &rare}, byID); err != nil {
			t.Fatal(err)
		}
	}
	var generic []string
	err = s.db.SelectContext(context.Background(), &generic, `
		SELECT statement FROM pg_prepared_statements
		WHERE generic_plans > 0 AND statement ~ '(ILIKE|owner_id =|price_cents >=)'
		  AND statement !~ 'pg_prepared_statements'`)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range generic {
		t.Errorf("run with a generic plan: %s", st)
	}
}
