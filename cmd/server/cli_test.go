package main_test

// Process tests for the subcommands: what they print, where, and their exit
// statuses, through the binary TestMain builds.

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/internal/apitest"
	"github.com/example/apitemplate/repositories"
)

// runServer runs the binary with args and exactly env (plus PATH and HOME)
// to completion, and returns its exit code, stdout and stderr.
func runServer(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	p := apitest.StartServer(t, serverBin, "", env, args...)
	code := p.Wait(t, 30*time.Second)
	return code, p.Stdout.String(), p.Stderr.String()
}

// oneLine fails unless stderr is exactly one line containing each of want.
func oneLine(t *testing.T, stderr string, want ...string) {
	t.Helper()
	line := strings.TrimSuffix(stderr, "\n")
	if line == "" || strings.Contains(line, "\n") {
		t.Errorf("stderr is not exactly one line: %q", stderr)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("stderr %q does not mention %q", line, w)
		}
	}
}

// routes prints the route tables of the app serve would build, and needs
// no database, so it runs on an address where none answers.
func TestRoutesPrintsTheRouteTables(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none?sslmode=disable"}
	code, stdout, stderr := runServer(t, env, "routes")
	if code != 0 || stderr != "" {
		t.Fatalf("server routes: exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if header := strings.Fields(lines[0]); strings.Join(header, " ") != "METHOD PATH ACCESS HANDLER" {
		t.Errorf("header = %q", lines[0])
	}
	printed := map[string]bool{}
	for _, line := range lines[1:] {
		printed[strings.Join(strings.Fields(line), " ")] = true
	}

	cfg, err := app.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	a, cleanup, err := apitemplate.InitializeApp(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	tables := a.Routes().All()
	for _, r := range tables {
		line := strings.Join([]string{r.Method, r.Path, r.Access.String(), r.HandlerName()}, " ")
		if !printed[line] {
			t.Errorf("the route %q is not printed", line)
		}
		if strings.Contains(r.HandlerName(), "/") || r.Access.String() == "unknown" {
			t.Errorf("%s %s: handler %q, access %q", r.Method, r.Path, r.HandlerName(), r.Access)
		}
	}
	if len(printed) != len(tables) {
		t.Errorf("printed %d routes, the tables hold %d:\n%s", len(printed), len(tables), stdout)
	}
	if !printed["GET /healthz public controllers.Healthy"] {
		t.Errorf("no line for the liveness probe:\n%s", stdout)
	}
	// Each kind of access, as the contract gives it for these routes.
	for _, want := range []string{
		"GET /users admin controllers.(*UserController).List",
		"GET /users/me bearer controllers.(*UserController).Me",
		"GET /users/:id self-or-admin controllers.(*UserController).Get",
		"PATCH /users/:id self-or-admin controllers.(*UserController).Patch",
		"DELETE /users/:id self-or-admin controllers.(*UserController).Delete",
		"PATCH /items/:id owner-or-admin controllers.(*ItemController).Patch",
		"PUT /items/:id owner-or-admin controllers.(*ItemController).Update",
		"POST /items bearer controllers.(*ItemController).Create",
		"POST /auth/refresh public controllers.(*AuthController).Refresh",
		"POST /auth/logout bearer controllers.(*AuthController).Logout",
	} {
		if !printed[want] {
			t.Errorf("no line %q:\n%s", want, stdout)
		}
	}
	for line := range printed {
		if f := strings.Fields(line); len(f) != 4 || !slices.Contains([]string{"public", "bearer", "admin", "self-or-admin", "owner-or-admin"}, f[2]) {
			t.Errorf("line %q: want METHOD PATH ACCESS HANDLER with a known ACCESS", line)
		}
	}
}

// routes follows the configuration, as serve does.
func TestRoutesWithDocsDisabled(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runServer(t, map[string]string{"DOCS_ENABLED": "false"}, "routes")
	if code != 0 || stderr != "" {
		t.Fatalf("server routes: exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stdout, "/schema") || !strings.Contains(stdout, "/items") {
		t.Errorf("with DOCS_ENABLED=false routes lists:\n%s", stdout)
	}
}

func TestSchemaWritesTheOpenAPI3Document(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, doc []byte) {
		t.Helper()
		var d struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatalf("schema output is not JSON: %v", err)
		}
		if !strings.HasPrefix(d.OpenAPI, "3.") {
			t.Errorf("openapi = %q, want 3.x", d.OpenAPI)
		}
		if _, ok := d.Paths["/items"]; !ok {
			t.Errorf("no /items in paths")
		}
	}
	t.Run("stdout", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runServer(t, nil, "schema")
		if code != 0 || stderr != "" {
			t.Fatalf("server schema: exit %d, stderr %q", code, stderr)
		}
		check(t, []byte(stdout))
	})
	t.Run("-o file", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "openapi.json")
		code, stdout, stderr := runServer(t, nil, "schema", "-o", out)
		if code != 0 || stderr != "" || stdout != "" {
			t.Fatalf("server schema -o: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		doc, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		check(t, doc)
	})
}

// migrate works the database in DATABASE_URL, which serve would otherwise
// migrate itself; it must not migrate it on opening. Whatever migrations
// the binary embeds, status lists them all, up applies them all, and down
// rolls them back one at a time, newest first. A pool of one is not enough
// for goose and its lock, and the command must not hang on it.
func TestMigrateStatusUpDown(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": apitest.EmptyDatabase(t), "DB_MAX_OPEN_CONNS": "1"}
	entries, err := fs.ReadDir(repositories.Migrations(), ".")
	if err != nil || len(entries) == 0 {
		t.Fatalf("embedded migrations: %v, %d files", err, len(entries))
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	slices.Sort(files)
	step := func(action string, want ...string) string {
		t.Helper()
		code, stdout, stderr := runServer(t, env, "migrate", action)
		if code != 0 || stderr != "" {
			t.Fatalf("migrate %s: exit %d, stderr %q", action, code, stderr)
		}
		for _, w := range want {
			if !regexp.MustCompile(w).MatchString(stdout) {
				t.Errorf("migrate %s printed %q, want a match for %s", action, stdout, w)
			}
		}
		return stdout
	}

	status := step("status")
	for _, f := range files {
		if !regexp.MustCompile(`(?m)^\d+\s+pending\s+-\s+` + regexp.QuoteMeta(f) + `$`).MatchString(status) {
			t.Errorf("migrate status does not list %s as pending:\n%s", f, status)
		}
	}
	if got := tablesExist(t, env["DATABASE_URL"], "users", "goose_db_version"); got["users"] {
		t.Fatalf("migrate status created tables: %v", got)
	}
	up := step("up")
	for _, f := range files {
		if !strings.Contains(up, "applied "+f) {
			t.Errorf("migrate up did not apply %s:\n%s", f, up)
		}
	}
	step("up", `no pending migrations`)
	if n := len(regexp.MustCompile(`(?m)^\d+\s+applied\s+\d{4}-\d\d-\d\dT`).FindAllString(step("status"), -1)); n != len(files) {
		t.Errorf("after migrate up, status shows %d applied, want %d", n, len(files))
	}
	wantMigrated(t, env["DATABASE_URL"])
	for i := len(files) - 1; i >= 0; i-- {
		step("down", `rolled back `+regexp.QuoteMeta(files[i]))
	}
	step("down", `no applied migrations to roll back`)
	if got := tablesExist(t, env["DATABASE_URL"], "users"); got["users"] {
		t.Errorf("users still exists after every migration was rolled back")
	}
}

func TestMigrateUnreachableDatabaseFailsWithOneLine(t *testing.T) {
	t.Parallel()
	code, _, stderr := runServer(t, map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/app?sslmode=disable"}, "migrate", "status")
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	oneLine(t, stderr, "not reachable")
}

func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"},
		{"serve", "-h"}, {"routes", "--help"}, {"schema", "-h"}, {"migrate", "--help"}, {"users", "-h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runServer(t, nil, args...)
			if code != 0 || stderr != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", code, stderr)
			}
			if !strings.HasPrefix(stdout, "Usage: server") {
				t.Errorf("stdout = %q, want a usage text", stdout)
			}
		})
	}
}

func TestBadUsageExitsTwoWithOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, "server -h"}},
		{[]string{"--port=1"}, []string{`unknown command "--port=1"`}},
		{[]string{"schema", "-x"}, []string{"schema", "-x"}},
		{[]string{"routes", "extra"}, []string{"routes", `"extra"`}},
		{[]string{"migrate"}, []string{"migrate", "up, down, status"}},
		{[]string{"migrate", "sideways"}, []string{"migrate", `"sideways"`}},
		{[]string{"users"}, []string{"users", "promote or demote"}},
		{[]string{"users", "elevate", "ada@example.com"}, []string{"users", `"elevate"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runServer(t, nil, tt.args...)
			if code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			oneLine(t, stderr, tt.want...)
		})
	}
}

// serve (here by name) reads .env from its working directory, and a variable
// set in the environment wins over the file.
func TestServeReadsDotEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dotEnvAddr, envAddr := apitest.FreeAddr(t), apitest.FreeAddr(t)
	dotEnv := "DATABASE_URL=" + apitest.NewDatabase(t) + "\nHTTP_ADDR=" + dotEnvAddr + "\nJWT_SECRET=" + testSecret + "\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotEnv), 0o600); err != nil {
		t.Fatal(err)
	}
	p := apitest.StartServer(t, serverBin, dir, map[string]string{"HTTP_ADDR": envAddr}, "serve")
	p.WaitReady(t, startTimeout)
	if status, _ := get(t, "http://"+envAddr, "/readyz"); status != http.StatusOK {
		t.Errorf("GET /readyz on the environment's HTTP_ADDR = %d, want 200", status)
	}
	if strings.Contains(p.Stdout.String(), "JWT_SECRET") {
		t.Errorf("JWT_SECRET warning although .env sets it")
	}
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	assertRefused(t, dotEnvAddr)
}

// insertUser stores an account directly, for the commands that act on one.
func insertUser(t *testing.T, dbURL, email string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO users (email, name, password_hash) VALUES ($1, 'Someone', 'x')`, email); err != nil {
		t.Fatalf("insert %s: %v", email, err)
	}
}

// roleOf reads an account's role from the database.
func roleOf(t *testing.T, dbURL, email string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var role string
	if err := conn.QueryRow(ctx, `SELECT role FROM users WHERE email = $1`, email).Scan(&role); err != nil {
		t.Fatalf("role of %s: %v", email, err)
	}
	return role
}

// users promote and demote change an account's role in DATABASE_URL: exit
// 0 and one line on stdout; an email no account has is exit 1 and one line
// on stderr; bad usage is exit 2.
func TestUsersPromoteAndDemote(t *testing.T) {
	t.Parallel()
	dbURL := apitest.NewDatabase(t)
	insertUser(t, dbURL, "ada@example.com")
	insertUser(t, dbURL, "bob@example.com")
	env := map[string]string{"DATABASE_URL": dbURL}

	for _, step := range []struct {
		args []string
		line string
		role string
	}{
		{[]string{"users", "promote", "ada@example.com"}, "ada@example.com is now admin", "admin"},
		{[]string{"users", "promote", "ada@example.com"}, "ada@example.com is now admin", "admin"}, // again: no change, no error
		{[]string{"users", "demote", " ADA@Example.COM "}, "ada@example.com is now user", "user"},
		{[]string{"users", "demote", "ada@example.com"}, "ada@example.com is now user", "user"},
		{[]string{"users", "promote", "Ada@Example.com"}, "ada@example.com is now admin", "admin"},
	} {
		code, stdout, stderr := runServer(t, env, step.args...)
		if code != 0 || stderr != "" {
			t.Fatalf("server %s: exit %d, stderr %q; want 0 and nothing", strings.Join(step.args, " "), code, stderr)
		}
		if line := strings.TrimSuffix(stdout, "\n"); line == "" || strings.Contains(line, "\n") || !strings.Contains(line, step.line) {
			t.Errorf("server %s printed %q, want one line saying %q", strings.Join(step.args, " "), stdout, step.line)
		}
		if got := roleOf(t, dbURL, "ada@example.com"); got != step.role {
			t.Errorf("after %s: role %q, want %q", strings.Join(step.args, " "), got, step.role)
		}
	}
	if got := roleOf(t, dbURL, "bob@example.com"); got != "user" {
		t.Errorf("bob's role = %q: changing ada's changed his", got)
	}

	t.Run("no such account", func(t *testing.T) {
		for _, action := range []string{"promote", "demote"} {
			code, stdout, stderr := runServer(t, env, "users", action, "nobody@example.com")
			if code != 1 || stdout != "" {
				t.Errorf("users %s nobody: exit %d, stdout %q; want 1 and nothing", action, code, stdout)
			}
			oneLine(t, stderr, "nobody@example.com")
		}
	})
	t.Run("unreachable database", func(t *testing.T) {
		code, stdout, stderr := runServer(t, map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/app?sslmode=disable"}, "users", "promote", "ada@example.com")
		if code != 1 || stdout != "" {
			t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
		}
		oneLine(t, stderr, "not reachable")
	})
	t.Run("bad usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"users"},
			{"users", "promote"},
			{"users", "ada@example.com"},
			{"users", "promote", "ada@example.com", "bob@example.com"},
			{"users", "elevate", "ada@example.com"},
			{"users", "-x", "promote", "ada@example.com"},
		} {
			code, stdout, stderr := runServer(t, env, args...)
			if code != 2 || stdout != "" {
				t.Errorf("server %s: exit %d, stdout %q; want 2 and nothing", strings.Join(args, " "), code, stdout)
			}
			oneLine(t, stderr, "users")
		}
		if got := roleOf(t, dbURL, "ada@example.com"); got != "admin" {
			t.Errorf("bad usage changed the role to %q", got)
		}
	})
}

// A role changed by the command takes effect on the very next request of a
// running server, with a token issued before the change: the server reads
// it with every request's user check and keeps no copy.
func TestUsersPromoteTakesEffectOnTheNextRequest(t *testing.T) {
	t.Parallel()
	dbURL := apitest.NewDatabase(t)
	addr := apitest.FreeAddr(t)
	p := start(t, map[string]string{
		"DATABASE_URL": dbURL,
		"HTTP_ADDR":    addr,
		"JWT_SECRET":   testSecret,
		"BCRYPT_COST":  "4",
	})
	p.WaitReady(t, startTimeout)
	base := "http://" + addr
	creds := map[string]string{"email": "ada@example.com", "name": "Ada", "password": "password123"}
	if status, body := postJSON(t, httpClient, base, "/users", creds); status != http.StatusCreated {
		t.Fatalf("POST /users = %d %s", status, body)
	}
	status, body := postJSON(t, httpClient, base, "/auth/login", creds)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(body), &tok); status != http.StatusOK || err != nil || tok.AccessToken == "" {
		t.Fatalf("POST /auth/login = %d %s", status, body)
	}
	// With nothing set, an access token lasts 15 minutes, and a refresh
	// token 30 days.
	if tok.ExpiresIn != 900 {
		t.Errorf("expires_in = %d, want 900 (the default JWT_TTL)", tok.ExpiresIn)
	}
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var ttl time.Duration
		if err := conn.QueryRow(ctx, `SELECT expires_at - created_at FROM refresh_tokens`).Scan(&ttl); err != nil {
			t.Fatal(err)
		}
		if ttl < 30*24*time.Hour-time.Minute || ttl > 30*24*time.Hour+time.Minute {
			t.Errorf("a refresh token lasts %v, want 720h (the default REFRESH_TTL)", ttl)
		}
	}()
	listUsers := func() (int, string) {
		t.Helper()
		status, _, body, err := apitest.Call(httpClient, http.MethodGet, base+"/users", tok.AccessToken, nil)
		if err != nil {
			t.Fatal(err)
		}
		return status, string(body)
	}
	setRole := func(action string) {
		t.Helper()
		code, stdout, stderr := runServer(t, map[string]string{"DATABASE_URL": dbURL}, "users", action, "ada@example.com")
		if code != 0 || stderr != "" || strings.Count(stdout, "\n") != 1 {
			t.Fatalf("users %s: exit %d, stdout %q, stderr %q", action, code, stdout, stderr)
		}
	}

	if status, body := listUsers(); status != http.StatusForbidden {
		t.Fatalf("GET /users before the promotion = %d %s, want 403", status, body)
	}
	setRole("promote")
	status, body = listUsers()
	if status != http.StatusOK {
		t.Fatalf("GET /users right after the promotion = %d %s, want 200", status, body)
	}
	var page struct {
		Items []struct {
			Email string `json:"email"`
			Role  string `json:"role"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Items) != 1 || page.Items[0].Role != "admin" {
		t.Errorf("GET /users = %s (%v), want ada, an admin", body, err)
	}
	setRole("demote")
	if status, body := listUsers(); status != http.StatusForbidden {
		t.Errorf("GET /users right after the demotion = %d %s, want 403", status, body)
	}
}
