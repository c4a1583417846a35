// Package apitest runs the real application, wired exactly as in production,
// against a fresh PostgreSQL database per test. Tests drive it through its
// router in process, with no network and no mocks.
package apitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver pgtestdb opens
	"github.com/jmoiron/sqlx"
	"github.com/peterldowns/pgtestdb"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// ServerURL is the PostgreSQL server tests create their databases on;
// TEST_DATABASE_URL overrides it.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// NewDatabase creates a migrated database of the test's own, dropped when the
// test passes, and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	server, err := pgx.ParseConfig(ServerURL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	conf := pgtestdb.Config{
		DriverName: "pgx",
		Host:       server.Host,
		Port:       strconv.Itoa(int(server.Port)),
		User:       server.User,
		Password:   server.Password,
		Database:   server.Database,
		Options:    "sslmode=disable",
		// Connect as the server's own user, so tests create no roles on a
		// server they share.
		TestRole:                  &pgtestdb.Role{Username: server.User, Password: server.Password},
		ForceTerminateConnections: true,
	}
	return pgtestdb.Custom(t, conf, migrator{}).URL()
}

// migrator lets pgtestdb build its template database with the embedded
// migrations, rebuilt whenever they change.
type migrator struct{}

func (migrator) Hash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(repositories.Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(repositories.Migrations(), path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return repositories.Migrate(ctx, db)
}

// Config is a development configuration pointing at databaseURL, with a fast
// bcrypt cost so tests that sign many users up stay quick.
func Config(databaseURL string) app.Config {
	return app.Config{
		Env:                       "test",
		HTTPAddr:                  "127.0.0.1:0",
		HTTPReadHeaderTimeout:     5 * time.Second,
		DatabaseURL:               databaseURL,
		DBMaxOpenConns:            10,
		DBMaxIdleConns:            10,
		DBConnMaxLifetime:         time.Minute,
		DBQueryTimeout:            5 * time.Second,
		JWTSecret:                 "test-secret-test-secret-test-secret!",
		JWTTTL:                    time.Hour,
		RefreshTTL:                30 * 24 * time.Hour,
		JWTIssuer:                 "apitemplate",
		JWTAudience:               "apitemplate",
		BcryptCost:                4,
		HashWorkers:               4,
		HashQueueTimeout:          10 * time.Second,
		LoginMaxFailuresPerEmail:  5,
		LoginMaxFailuresPerClient: 50,
		LoginFailureWindow:        time.Minute,
		DocsEnabled:               true,
		ShutdownTimeout:           5 * time.Second,
		LogFormat:                 "json",
	}
}

// API is the application under test.
type API struct {
	t testing.TB
	// Handler is the router behind a check that fails the test on any
	// exchange docs/openapi.json does not describe.
	Handler http.Handler
	// Engine is the router itself, for looking at its routes.
	Engine *gin.Engine
	Config app.Config
	// DB is a separate pool on the test's database, for checking what the
	// application wrote.
	DB *sqlx.DB
	// Routes are the application's route tables, as the router mounts them
	// and `server routes` prints them.
	Routes app.Routes
}

// New starts the application on a fresh database. change, if given, adjusts
// the configuration first.
func New(t testing.TB, change ...func(*app.Config)) *API {
	t.Helper()
	gin.SetMode(gin.TestMode)
	cfg := Config(NewDatabase(t))
	for _, c := range change {
		c(&cfg)
	}
	a, cleanup, err := apitemplate.InitializeApp(cfg, io.Discard)
	if err != nil {
		t.Fatalf("initialize app: %v", err)
	}
	t.Cleanup(cleanup)
	db, err := sqlx.Open("pgx", cfg.DatabaseURL)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	engine, ok := a.Handler().(*gin.Engine)
	if !ok {
		t.Fatalf("the app's handler is a %T, not a *gin.Engine", a.Handler())
	}
	return &API{t: t, Handler: checkedHandler{t: t, next: engine}, Engine: engine, Config: cfg, DB: db, Routes: a.Routes()}
}

// Response is a recorded response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response body is not JSON (%v): %s", err, r.Body)
	}
}

// Request is one request to send; Body, when not a string or []byte, is
// encoded as JSON.
type Request struct {
	Method string
	Path   string
	Body   any
	Token  string
	Header map[string]string
}

// Do sends req through the router and records the response. A body gets
// Content-Type: application/json unless req.Header says otherwise.
func (a *API) Do(req Request) *Response {
	a.t.Helper()
	var body io.Reader
	switch b := req.Body.(type) {
	case nil:
	case string:
		body = bytes.NewBufferString(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			a.t.Fatalf("encode request body: %v", err)
		}
		body = bytes.NewReader(enc)
	}
	r := httptest.NewRequestWithContext(context.Background(), req.Method, req.Path, body)
	r.RemoteAddr = "192.0.2.1:1234"
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.Token != "" {
		r.Header.Set("Authorization", "Bearer "+req.Token)
	}
	for k, v := range req.Header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	a.Handler.ServeHTTP(w, r)
	return &Response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// User is a signed-up user and the tokens of a session of theirs.
type User struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"-"`
	Token    string `json:"-"` // an access token
	Refresh  string `json:"-"` // the refresh token of the same login
}

// SignUp creates a user and logs them in, failing the test on any error.
func (a *API) SignUp(email, name, password string) User {
	a.t.Helper()
	res := a.Do(Request{Method: http.MethodPost, Path: "/users", Body: map[string]string{
		"email": email, "name": name, "password": password,
	}})
	if res.Status != http.StatusCreated {
		a.t.Fatalf("sign up %s: %d %s", email, res.Status, res.Body)
	}
	var u User
	res.JSON(a.t, &u)
	u.Password = password
	tok := a.LoginTokens(email, password)
	u.Token, u.Refresh = tok.Access, tok.Refresh
	return u
}

// Login returns an access token, failing the test on any error.
func (a *API) Login(email, password string) string {
	a.t.Helper()
	return a.LoginTokens(email, password).Access
}

// Tokens are what a login or a refresh answers.
type Tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

// LoginTokens logs in and returns the session's tokens, failing the test on
// any error.
func (a *API) LoginTokens(email, password string) Tokens {
	a.t.Helper()
	res := a.Do(Request{Method: http.MethodPost, Path: "/auth/login", Body: map[string]string{
		"email": email, "password": password,
	}})
	if res.Status != http.StatusOK {
		a.t.Fatalf("login %s: %d %s", email, res.Status, res.Body)
	}
	var tok Tokens
	res.JSON(a.t, &tok)
	if tok.Access == "" || tok.Refresh == "" {
		a.t.Fatalf("login %s: no access or refresh token in %s", email, res.Body)
	}
	return tok
}

// SetRole gives the account with email a role as `server users promote`
// and `demote` do, through the users' service on the test's database. It
// takes effect on the account's next request.
func (a *API) SetRole(email string, role services.Role) {
	a.t.Helper()
	users, cleanup, err := apitemplate.InitializeUsers(a.Config, io.Discard)
	if err != nil {
		a.t.Fatalf("initialize users: %v", err)
	}
	defer cleanup()
	if err := users.SetRole(context.Background(), email, role); err != nil {
		a.t.Fatalf("set role of %s to %s: %v", email, role, err)
	}
}

// SignUpAdmin signs a user up and makes them an admin.
func (a *API) SignUpAdmin(email, name, password string) User {
	a.t.Helper()
	u := a.SignUp(email, name, password)
	a.SetRole(u.Email, services.RoleAdmin)
	u.Role = string(services.RoleAdmin)
	return u
}

// For returns the same application whose exchanges fail t instead of the
// test that started it: a fuzz target starts the application once with its
// *testing.F but may only report failures through each input's *testing.T.
func (a *API) For(t testing.TB) *API {
	c := *a
	c.t = t
	c.Handler = checkedHandler{t: t, next: a.Engine}
	return &c
}
