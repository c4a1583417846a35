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
	"time"

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

// TestServeThroughTheRequestScope sends requests through the real request
// scope (the Wire injector over a pool on a test database) and Serve, with
// recovery outside them as in app.NewRouter, and checks what each request
// left in the database.
func TestServeThroughTheRequestScope(t *testing.T) {
	gin.SetMode(gin.TestMode)
	tests := []struct {
		name       string
		handler    func(c *gin.Context, data *repositories.Data, insert func(context.Context) error) error
		wantStatus int
		wantRow    bool
		panics     bool
	}{
		{
			name: "panic after a write in ExecTx",
			handler: func(c *gin.Context, data *repositories.Data, insert func(context.Context) error) error {
				return data.ExecTx(c.Request.Context(), func(ctx context.Context) error {
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
			name: "error after a write in ExecTx",
			handler: func(c *gin.Context, data *repositories.Data, insert func(context.Context) error) error {
				return data.ExecTx(c.Request.Context(), func(ctx context.Context) error {
					if err := insert(ctx); err != nil {
						return err
					}
					return errScopeHandler
				})
			},
			wantStatus: http.StatusInternalServerError,
		},
		// The controls: what was committed stays, panic or not.
		{
			name: "panic after ExecTx committed",
			handler: func(c *gin.Context, data *repositories.Data, insert func(context.Context) error) error {
				if err := data.ExecTx(c.Request.Context(), insert); err != nil {
					return err
				}
				panic("handler bug after the commit")
			},
			wantStatus: http.StatusInternalServerError,
			panics:     true,
			wantRow:    true,
		},
		{
			name: "success",
			handler: func(c *gin.Context, data *repositories.Data, insert func(context.Context) error) error {
				if err := data.ExecTx(c.Request.Context(), insert); err != nil {
					return err
				}
				c.Status(http.StatusNoContent)
				return nil
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
			db.SetMaxOpenConns(4)
			data := repositories.NewData(db, 5*time.Second)
			users := repositories.NewUserRepository(data)
			insert := func(ctx context.Context) error {
				_, err := users.Create(ctx, services.NewUser{Email: "ann@example.com", Name: "Ann", PasswordHash: "x"})
				return err
			}
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			// The route is public, so the scope needs no AuthService.
			deps := &providers.RequestDeps{Data: data}
			newScope := func(r *http.Request, access controllers.Access) (*controllers.RequestScope, func(), error) {
				return apitemplate.InitializeRequestScope(r, access, deps)
			}

			r := gin.New()
			r.Use(controllers.Recover(logger))
			route := controllers.Route{Method: http.MethodPost, Path: "/write", Access: controllers.Public, Handle: func(c *gin.Context) error {
				return tt.handler(c, data, insert)
			}}
			r.Handle(route.Method, route.Path, controllers.Serve(route, newScope, logger))

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
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != tt.wantStatus || p.Detail != "internal server error" {
					t.Fatalf("body = %s (%v), want a bare problem with status %d", w.Body, err, tt.wantStatus)
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

// A Bearer route authenticates before its handler runs, through the
// request's session; a public one reads no token at all.
func TestServeAuthenticatesBearerRoutesOnly(t *testing.T) {
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	tests := []struct {
		name, path, token string
		want              int
	}{
		{"bearer route, valid token", "/users/me", ada.Token, http.StatusOK},
		{"bearer route, no token", "/users/me", "", http.StatusUnauthorized},
		{"bearer route, bad token", "/users/me", "not.a.token", http.StatusUnauthorized},
		{"public route, bad token", "/items", "not.a.token", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: tt.path, Token: tt.token})
			if res.Status != tt.want {
				t.Fatalf("GET %s: %d %s, want %d", tt.path, res.Status, res.Body, tt.want)
			}
		})
	}
}
