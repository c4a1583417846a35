// Package bench holds the Go benchmarks `make bench` runs after the load
// test: what the template's pieces cost per request, measured through the
// service's exported API only. The commands beside it (load, baseline,
// plain, profserver) are the load test itself.
package bench

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/internal/apitest"
	"github.com/example/apitemplate/providers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// discard is a ResponseWriter that keeps nothing, so a benchmark measures
// the server's work and not a recorder's.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// serve runs r through h for b.N iterations with a fresh header map each.
func serve(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// unconnectedData is a repositories.Data on a pool of 20 that never
// connects: enough for everything that only holds it.
func unconnectedData(b *testing.B) *repositories.Data {
	b.Helper()
	cfg, err := pgx.ParseConfig("postgres://postgres@127.0.0.1:5432/unused?sslmode=disable")
	if err != nil {
		b.Fatal(err)
	}
	db := sqlx.NewDb(stdlib.OpenDB(*cfg), "pgx")
	db.SetMaxOpenConns(20)
	b.Cleanup(func() { _ = db.Close() })
	return repositories.NewData(db, 5*time.Second)
}

// BenchmarkRequestScope is what every request to a public controller route
// pays for dependency injection: the generated request-scope injector (a
// repositories.Session and the zero Caller) and its cleanup.
func BenchmarkRequestScope(b *testing.B) {
	deps := &providers.RequestDeps{Data: unconnectedData(b)} // a public route never reads Auth
	r := httptest.NewRequest(http.MethodGet, "/items/1", nil)
	b.ReportAllocs()
	for b.Loop() {
		scope, cleanup, err := apitemplate.InitializeRequestScope(r, controllers.Public, deps)
		if err != nil || scope == nil {
			b.Fatal(err)
		}
		cleanup()
	}
}

// BenchmarkServe is the whole per-request cost of a controller route's
// wrapper over a system route's, on Gin with no middleware and a handler
// that only answers 204: controllers.Serve builds the request scope with the
// injector, puts the session and the scope in the request's context and
// copies the request; controllers.Plain only calls the handler.
func BenchmarkServe(b *testing.B) {
	deps := &providers.RequestDeps{Data: unconnectedData(b)}
	newScope := func(r *http.Request, access controllers.Access) (*controllers.RequestScope, func(), error) {
		return apitemplate.InitializeRequestScope(r, access, deps)
	}
	logger := slog.New(slog.DiscardHandler)
	rt := controllers.Route{Method: http.MethodGet, Path: "/items/:id", Access: controllers.Public,
		Handle: func(c *gin.Context) error { c.Status(http.StatusNoContent); return nil }}
	r := httptest.NewRequest(http.MethodGet, "/items/1", nil)
	for _, c := range []struct {
		name string
		h    gin.HandlerFunc
	}{
		{"plain", controllers.Plain(rt, logger)},
		{"scoped", controllers.Serve(rt, newScope, logger)},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := gin.New()
			e.ContextWithFallback = true
			e.Handle(rt.Method, rt.Path, c.h)
			serve(b, e, r)
		})
	}
}

// BenchmarkHTTPMetrics is the metrics middleware's cost: Gin routing to an
// empty handler without it, and with it.
func BenchmarkHTTPMetrics(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "/items/1", nil)
	for _, c := range []struct {
		name string
		mw   []gin.HandlerFunc
	}{
		{"none", nil},
		{"metrics", []gin.HandlerFunc{controllers.NewHTTPMetrics().Middleware}},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := gin.New()
			e.Use(c.mw...)
			e.GET("/items/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
			serve(b, e, r)
		})
	}
}

// BenchmarkMiddleware is each of the template's middleware alone, then the
// whole chain app.NewRouter mounts in front of a controller route (in its
// order, with controllers.Serve and a request scope, so the access log has
// the scope's database usage to add), all around a handler that answers
// 204. The access log writes JSON to io.Discard, except in access_log_file,
// whose write(2) to /dev/null is what the server's stdout costs in
// `make bench`.
func BenchmarkMiddleware(b *testing.B) {
	jsonTo := func(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = devNull.Close() })
	logger := jsonTo(io.Discard)
	deps := &providers.RequestDeps{Data: unconnectedData(b)}
	newScope := func(r *http.Request, access controllers.Access) (*controllers.RequestScope, func(), error) {
		return apitemplate.InitializeRequestScope(r, access, deps)
	}
	rt := controllers.Route{Method: http.MethodGet, Path: "/items/:id", Access: controllers.Public,
		Handle: func(c *gin.Context) error { c.Status(http.StatusNoContent); return nil }}
	chain := func(log *slog.Logger) []gin.HandlerFunc {
		return []gin.HandlerFunc{
			controllers.NewHTTPMetrics().Middleware, controllers.RequestID, controllers.AccessLog(log),
			controllers.SecurityHeaders, controllers.Recover(log), controllers.RequireJSON,
		}
	}
	plainHandler := controllers.Plain(rt, logger)
	for _, c := range []struct {
		name   string
		mw     []gin.HandlerFunc
		h      gin.HandlerFunc
		header string // an X-Request-ID the client sends
	}{
		{"none", nil, plainHandler, ""},
		{"metrics", []gin.HandlerFunc{controllers.NewHTTPMetrics().Middleware}, plainHandler, ""},
		{"request_id_new", []gin.HandlerFunc{controllers.RequestID}, plainHandler, ""},
		{"request_id_given", []gin.HandlerFunc{controllers.RequestID}, plainHandler, "0123456789abcdef0123456789abcdef"},
		{"access_log", []gin.HandlerFunc{controllers.AccessLog(logger)}, plainHandler, ""},
		{"access_log_file", []gin.HandlerFunc{controllers.AccessLog(jsonTo(devNull))}, plainHandler, ""},
		{"security_headers", []gin.HandlerFunc{controllers.SecurityHeaders}, plainHandler, ""},
		{"recover", []gin.HandlerFunc{controllers.Recover(logger)}, plainHandler, ""},
		{"require_json", []gin.HandlerFunc{controllers.RequireJSON}, plainHandler, ""},
		{"all_scoped", chain(logger), controllers.Serve(rt, newScope, logger), ""},
		{"all_scoped_file", chain(jsonTo(devNull)), controllers.Serve(rt, newScope, logger), ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := gin.New()
			e.ContextWithFallback = true
			e.Use(c.mw...)
			e.Handle(rt.Method, rt.Path, c.h)
			r := httptest.NewRequest(http.MethodGet, "/items/1", nil)
			if c.header != "" {
				r.Header.Set(controllers.RequestIDHeader, c.header)
			}
			serve(b, e, r)
		})
	}
}

// BenchmarkBindPath is GET /items/{id}'s path parameter: the template's
// Binder (reflection and the validator's min=1) against what the
// yardsticks do, strconv.ParseInt and a comparison.
func BenchmarkBindPath(b *testing.B) {
	bind := controllers.NewBinder()
	r := httptest.NewRequest(http.MethodGet, "/items/1234", nil)
	for _, c := range []struct {
		name string
		h    gin.HandlerFunc
	}{
		{"binder", func(c *gin.Context) {
			var p controllers.IDPath
			if err := bind.Path(c, &p); err != nil || p.ID != 1234 {
				c.Status(http.StatusBadRequest)
				return
			}
			c.Status(http.StatusNoContent)
		}},
		{"strconv", func(c *gin.Context) {
			if id, err := strconv.ParseInt(c.Param("id"), 10, 64); err != nil || id < 1 {
				c.Status(http.StatusBadRequest)
				return
			}
			c.Status(http.StatusNoContent)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := gin.New()
			e.GET("/items/:id", c.h)
			serve(b, e, r)
		})
	}
}

// BenchmarkEncodeItem is GET /items/{id}'s body: one item through Gin's
// c.JSON, as the template writes it, and through a json.Encoder on the
// ResponseWriter, as the yardsticks do.
func BenchmarkEncodeItem(b *testing.B) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 123456000, time.UTC)
	item := controllers.ItemResponse{ID: 1234, Name: "item 1234", Description: "seeded for the benchmark",
		PriceCents: 123400, OwnerID: 1, CreatedAt: at, UpdatedAt: at}
	r := httptest.NewRequest(http.MethodGet, "/items/1234", nil)
	for _, c := range []struct {
		name string
		h    gin.HandlerFunc
	}{
		{"gin_c_json", func(c *gin.Context) { c.JSON(http.StatusOK, item) }},
		{"json_encoder", func(c *gin.Context) {
			c.Writer.Header().Set("Content-Type", "application/json; charset=utf-8")
			c.Writer.WriteHeader(http.StatusOK)
			_ = json.NewEncoder(c.Writer).Encode(item)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := gin.New()
			e.GET("/items/:id", c.h)
			serve(b, e, r)
		})
	}
}

// BenchmarkSelectItem is GET /items/{id}'s statement on a real database,
// one round trip each, by four routes to it: the template's repository
// (Data's queue and per-statement timeout, then sqlx), in a request's
// session and outside one; sqlx alone on the same database/sql pool;
// database/sql's Row.Scan on it; and pgxpool, as the yardsticks do. The
// round trip dominates ns/op; allocs/op and B/op are the stacks' own.
func BenchmarkSelectItem(b *testing.B) {
	dbURL := apitest.NewDatabase(b)
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	db := sqlx.NewDb(stdlib.OpenDB(*cfg), "pgx")
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	b.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	var owner, id int64
	if err := db.QueryRowContext(ctx, `INSERT INTO users (email, name, password_hash) VALUES ('bench@example.com', 'Bench', 'x') RETURNING id`).Scan(&owner); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `INSERT INTO items (name, description, price_cents, owner_id) VALUES ('item', 'seeded for the benchmark', 1999, $1) RETURNING id`, owner).Scan(&id); err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)

	const selectItem = `SELECT id, name, description, price_cents, owner_id, created_at, updated_at FROM items WHERE id = $1`
	type row struct {
		ID          int64     `db:"id"`
		Name        string    `db:"name"`
		Description string    `db:"description"`
		PriceCents  int64     `db:"price_cents"`
		OwnerID     int64     `db:"owner_id"`
		CreatedAt   time.Time `db:"created_at"`
		UpdatedAt   time.Time `db:"updated_at"`
	}
	data := repositories.NewData(db, 5*time.Second)
	items := repositories.NewItemRepository(data)
	sessionCtx := func() context.Context {
		s, _ := repositories.NewSession(data, nil) // nothing to observe: its cleanup only reports
		return s.Context(ctx)
	}
	for _, c := range []struct {
		name string
		get  func() (int64, error)
	}{
		{"repository_session", func() (int64, error) { it, err := items.Get(sessionCtx(), id); return it.ID, err }},
		{"repository", func() (int64, error) { it, err := items.Get(ctx, id); return it.ID, err }},
		{"sqlx", func() (int64, error) { var r row; err := db.GetContext(ctx, &r, selectItem, id); return r.ID, err }},
		{"database_sql", func() (int64, error) {
			var r row
			err := db.QueryRowContext(ctx, selectItem, id).Scan(&r.ID, &r.Name, &r.Description, &r.PriceCents, &r.OwnerID, &r.CreatedAt, &r.UpdatedAt)
			return r.ID, err
		}},
		{"pgxpool", func() (int64, error) {
			var r row
			err := pool.QueryRow(ctx, selectItem, id).Scan(&r.ID, &r.Name, &r.Description, &r.PriceCents, &r.OwnerID, &r.CreatedAt, &r.UpdatedAt)
			return r.ID, err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			if got, err := c.get(); err != nil || got != id { // and warms the statement cache
				b.Fatalf("got %d, %v; want %d", got, err, id)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.get(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRequest drives whole requests through the real router
// (apitest's engine, without its OpenAPI check) and a real database in
// process: the template's own cost per request without the network or the
// access log's write, which goes to io.Discard. Run with -cpuprofile to see
// where it goes.
func BenchmarkRequest(b *testing.B) {
	api := apitest.New(b)
	gin.SetMode(gin.ReleaseMode) // apitest.New chose test mode
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	const newItem = `{"name":"Teapot","description":"Short and stout","price_cents":1999}`
	res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Token: ada.Token, Body: newItem})
	if res.Status != http.StatusCreated {
		b.Fatalf("POST /items: %d %s", res.Status, res.Body)
	}
	for _, c := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"GET_root", http.MethodGet, "/", "", http.StatusOK},
		{"GET_item", http.MethodGet, "/items/1", "", http.StatusOK},
		{"GET_items_page", http.MethodGet, "/items?limit=20", "", http.StatusOK},
		{"GET_users_me", http.MethodGet, "/users/me", "", http.StatusOK},
		{"POST_items", http.MethodPost, "/items", newItem, http.StatusCreated},
	} {
		b.Run(c.name, func(b *testing.B) {
			// One checked request first, so a benchmark of a failing route
			// cannot pass for a fast one.
			req := apitest.Request{Method: c.method, Path: c.path, Token: ada.Token}
			if c.body != "" {
				req.Body = c.body
			}
			if res := api.Do(req); res.Status != c.status {
				b.Fatalf("%s %s: %d %s", c.method, c.path, res.Status, res.Body)
			}
			b.ReportAllocs()
			w := &discard{h: http.Header{}}
			for b.Loop() {
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				r := httptest.NewRequest(c.method, c.path, body)
				r.Header.Set("Authorization", "Bearer "+ada.Token)
				if body != nil {
					r.Header.Set("Content-Type", "application/json")
				}
				clear(w.h)
				api.Engine.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkStartup is InitializeApp in the production configuration: the
// in-process part of exec-to-ready, without the first ping and the
// migrations that App.Run adds (what the Go runtime and package
// initialisation add is only visible from outside, in the load test).
func BenchmarkStartup(b *testing.B) {
	cfg := apitest.Config(apitest.NewDatabase(b))
	cfg.Env = "production"
	cfg.BcryptCost = 12 // the production default
	b.ReportAllocs()
	for b.Loop() {
		a, cleanup, err := apitemplate.InitializeApp(cfg, io.Discard)
		if err != nil || a == nil {
			b.Fatal(err)
		}
		cleanup()
	}
}

// BenchmarkRespondError is the error path of a route: the error a handler
// returns mapped to its status and written as a problem+json body through
// Gin.
func BenchmarkRespondError(b *testing.B) {
	logger := slog.New(slog.DiscardHandler)
	r := httptest.NewRequest(http.MethodGet, "/items/1", nil)
	for _, c := range []struct {
		name string
		err  error
	}{
		{"not_found", services.ErrNotFound},
		{"validation", &controllers.ValidationError{Detail: "request body failed validation", Errors: []controllers.FieldError{
			{Field: "name", Message: "must be at least 1 character long"},
			{Field: "price_cents", Message: "is required"},
		}}},
		{"unauthenticated", services.ErrUnauthenticated},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := gin.New()
			rt := controllers.Route{Method: http.MethodGet, Path: "/items/:id", Access: controllers.Public,
				Handle: func(*gin.Context) error { return c.err }}
			e.Handle(rt.Method, rt.Path, controllers.Plain(rt, logger))
			serve(b, e, r)
		})
	}
}
