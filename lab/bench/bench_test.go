package apitemplate_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/internal/apitest"
	"github.com/example/apitemplate/providers"
	"github.com/example/apitemplate/services"
)

// BenchmarkRequestScope is what every request pays for dependency
// injection: the generated injector and its cleanup. The target is 1 µs.
func BenchmarkRequestScope(b *testing.B) {
	deps := &providers.RequestDeps{
		// The scope only holds the pool; nothing here connects.
		DB:     new(sqlx.DB),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Auth:   new(services.AuthService),
	}
	r := httptest.NewRequest(http.MethodGet, "/items/1", nil)
	r.Header.Set(controllers.RequestIDHeader, "0123456789abcdef0123456789abcdef")
	r.Header.Set("Authorization", "Bearer header.payload.signature")
	b.ReportAllocs()
	for b.Loop() {
		scope, cleanup, err := apitemplate.InitializeRequestScope(r, deps)
		if err != nil || scope == nil {
			b.Fatal(err)
		}
		cleanup()
	}
}

// discard is a ResponseWriter that keeps nothing, so a benchmark measures
// the server's work and not a recorder's.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkRequest drives whole requests through the real router and a real
// database in process: the template's own cost per request, without the
// network. Run with -cpuprofile to see where it goes.
func BenchmarkRequest(b *testing.B) {
	api := apitest.New(b)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Token: ada.Token,
		Body: `{"name":"Teapot","description":"Short and stout","price_cents":1999}`})
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
		{"POST_items", http.MethodPost, "/items", `{"name":"Teapot","description":"Short and stout","price_cents":1999}`, http.StatusCreated},
	} {
		b.Run(c.name, func(b *testing.B) {
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
				api.Handler.ServeHTTP(w, r)
			}
			// One checked request outside the loop, so a benchmark of a
			// failing route cannot pass for a fast one.
			req := apitest.Request{Method: c.method, Path: c.path, Token: ada.Token}
			if c.body != "" {
				req.Body = c.body
			}
			if res := api.Do(req); res.Status != c.status {
				b.Fatalf("%s %s: %d %s", c.method, c.path, res.Status, res.Body)
			}
		})
	}
}

// BenchmarkStartup is InitializeApp in the production configuration on a
// migrated database: the in-process part of exec-to-ready (what the Go
// runtime and package initialisation add is only visible from outside, in
// make bench).
func BenchmarkStartup(b *testing.B) {
	cfg := apitest.Config(apitest.NewDatabase(b))
	cfg.Env = "production"
	cfg.BcryptCost = 12 // the production default
	b.ReportAllocs()
	for b.Loop() {
		a, cleanup, err := apitemplate.InitializeApp(context.Background(), cfg, io.Discard)
		if err != nil || a == nil {
			b.Fatal(err)
		}
		cleanup()
	}
}
