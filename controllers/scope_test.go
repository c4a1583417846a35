package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/internal/apitest"
	"github.com/example/apitemplate/providers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

var errScopeHandler = errors.New("handler failed after writing")

// scopeTestHandler is a route's body: tx and insert work on the test's pool,
// insert writing one user.
type scopeTestHandler func(c *gin.Context, tx *repositories.Transactor, insert func(context.Context) error)

// TestScopeCleanupThroughHTTP sends requests through the real request scope
// (the Wire injector over a pool on a test database), with recovery outside
// it as in app.NewRouter, and checks what each request left in the database.
func TestScopeCleanupThroughHTTP(t *testing.T) {
	gin.SetMode(gin.TestMode)
	insert := func(ctx context.Context, db *sqlx.DB) error {
		_, err := repositories.NewUserRepository(db).Create(ctx, services.NewUser{Email: "ann@example.com", Name: "Ann", PasswordHash: "x"})
		return err
	}

	tests := []struct {
		name       string
		handler    scopeTestHandler
		wantStatus int
		wantRow    bool
		panics     bool
	}{
		{
			name: "panic after a write in WithinTx",
			handler: func(c *gin.Context, tx *repositories.Transactor, insert func(context.Context) error) {
				_ = tx.WithinTx(c.Request.Context(), func(ctx context.Context) error {
					if err := insert(ctx); err != nil {
						return err
					}
					panic("handler bug")
				})
			},
			wantStatus: http.StatusInternalServerError,
			panics:     true,
		},
		{
			name: "error after a write in WithinTx",
			handler: func(c *gin.Context, tx *repositories.Transactor, insert func(context.Context) error) {
				err := tx.WithinTx(c.Request.Context(), func(ctx context.Context) error {
					if err := insert(ctx); err != nil {
						return err
					}
					return errScopeHandler
				})
				_ = c.Error(err)
			},
			wantStatus: http.StatusInternalServerError,
		},
		// The controls: what was committed stays, panic or not.
		{
			name: "panic after WithinTx committed",
			handler: func(c *gin.Context, tx *repositories.Transactor, insert func(context.Context) error) {
				if err := tx.WithinTx(c.Request.Context(), func(ctx context.Context) error { return insert(ctx) }); err != nil {
					_ = c.Error(err)
					return
				}
				panic("handler bug after the commit")
			},
			wantStatus: http.StatusInternalServerError,
			panics:     true,
			wantRow:    true,
		},
		{
			name: "success",
			handler: func(c *gin.Context, tx *repositories.Transactor, insert func(context.Context) error) {
				if err := tx.WithinTx(c.Request.Context(), func(ctx context.Context) error { return insert(ctx) }); err != nil {
					_ = c.Error(err)
					return
				}
				c.Status(http.StatusNoContent)
			},
			wantStatus: http.StatusNoContent,
			wantRow:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlx.Open("pgx", apitest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			// No route here asks who the caller is, so the scope needs no AuthService.
			deps := &providers.RequestDeps{DB: db, Logger: logger}
			newScope := func(r *http.Request) (*controllers.RequestScope, func(), error) {
				return apitemplate.InitializeRequestScope(r, deps)
			}
			tx := repositories.NewTransactor(db)

			r := gin.New()
			r.Use(controllers.Errors, controllers.Recover(logger), controllers.Scoped(newScope))
			r.POST("/write", func(c *gin.Context) {
				tt.handler(c, tx, func(ctx context.Context) error { return insert(ctx, db) })
			})

			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/write", nil))

			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus >= 400 {
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, controllers.ProblemContentType) {
					t.Fatalf("Content-Type = %q, want %s", ct, controllers.ProblemContentType)
				}
				var p controllers.Problem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != tt.wantStatus {
					t.Fatalf("body = %s (%v), want a problem with status %d", w.Body, err, tt.wantStatus)
				}
			}
			var n int
			if err := db.GetContext(context.Background(), &n, "SELECT count(*) FROM users"); err != nil {
				t.Fatal(err)
			}
			if got := n == 1; got != tt.wantRow {
				t.Fatalf("row written = %v, want %v", got, tt.wantRow)
			}
			if inUse := db.Stats().InUse; inUse != 0 {
				t.Fatalf("%d connections still in use after the response", inUse)
			}
			if panicked := strings.Contains(logs.String(), `"msg":"panic"`); panicked != tt.panics {
				t.Fatalf("panic logged = %v, want %v: %s", panicked, tt.panics, logs.String())
			}
		})
	}
}
