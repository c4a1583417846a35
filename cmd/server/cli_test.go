package main_test

// Process tests for the subcommands: what they print, where, and their exit
// statuses, through the binary TestMain builds.

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/apitest"
)

// runServer runs the binary with args and exactly env (plus PATH and HOME)
// to completion, and returns its exit code, stdout and stderr.
func runServer(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	p := startIn(t, t.TempDir(), env, args...)
	code := p.wait(30 * time.Second)
	return code, p.stdout.String(), p.stderr.String()
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

// routes reads the real router, so which routes need a token comes from the
// middleware actually on them; and it needs no database, so it runs on an
// address where none answers.
func TestRoutesListsEveryRouteWithItsBearerRequirement(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runServer(t, map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none?sslmode=disable"}, "routes")
	if code != 0 || stderr != "" {
		t.Fatalf("server routes: exit %d, stderr %q", code, stderr)
	}
	wants := map[string]string{
		"GET /healthz":             "no",
		"POST /auth/login":         "no",
		"POST /users":              "no",
		"GET /users/me":            "yes",
		"GET /items":               "no",
		"GET /items/:id":           "no",
		"POST /items":              "yes",
		"PUT /items/:id":           "yes",
		"DELETE /items/:id":        "yes",
		"GET /schema":              "no",
		"DELETE /users/:id":        "yes",
		"GET /readyz":              "no",
		"PUT /users/:id":           "yes",
		"GET /users/:id":           "yes",
		"GET /swagger/*any":        "no",
		"GET /users":               "yes",
		"GET /":                    "no",
		"GET /schema/openapi.json": "no",
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if header := strings.Fields(lines[0]); strings.Join(header, " ") != "METHOD PATH HANDLER BEARER" {
		t.Errorf("header = %q", lines[0])
	}
	seen := map[string]bool{}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Errorf("line %q has %d columns, want 4", line, len(f))
			continue
		}
		route := f[0] + " " + f[1]
		seen[route] = true
		if want, ok := wants[route]; ok && f[3] != want {
			t.Errorf("%s: bearer = %s, want %s", route, f[3], want)
		}
		if f[2] == "" || strings.Contains(f[2], "github.com/") {
			t.Errorf("%s: handler %q is not a short name", route, f[2])
		}
	}
	for route := range wants {
		if !seen[route] {
			t.Errorf("%s is not listed", route)
		}
	}
	if !regexp.MustCompile(`(?m)^POST\s+/items\s+controllers\.\(\*ItemController\)\.Create\s+yes$`).MatchString(stdout) {
		t.Errorf("no line for POST /items with its handler and yes:\n%s", stdout)
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
// migrate itself; it must not migrate it on opening. A pool of one is not
// enough for goose and its lock, and the command must not hang on it.
func TestMigrateStatusUpDown(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": emptyDatabase(t), "DB_MAX_OPEN_CONNS": "1"}
	step := func(action string, want ...string) {
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
	}
	step("status", `(?m)^1\s+pending\s+-\s+00001_users_and_items\.sql$`)
	if got := tablesExist(t, env["DATABASE_URL"], "users", "goose_db_version"); got["users"] {
		t.Fatalf("migrate status created tables: %v", got)
	}
	step("up", `applied 00001_users_and_items\.sql`)
	step("up", `no pending migrations`)
	step("status", `(?m)^1\s+applied\s+\d{4}-\d\d-\d\dT`)
	if got := tablesExist(t, env["DATABASE_URL"], "users", "items", "login_failures"); !got["users"] || !got["items"] || !got["login_failures"] {
		t.Errorf("after migrate up, tables: %v", got)
	}
	step("down", `rolled back 00001_users_and_items\.sql`)
	step("down", `no applied migrations to roll back`)
	if got := tablesExist(t, env["DATABASE_URL"], "users"); got["users"] {
		t.Errorf("users still exists after migrate down")
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
		{"serve", "-h"}, {"routes", "--help"}, {"schema", "-h"}, {"migrate", "--help"},
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
	p := startIn(t, dir, map[string]string{"HTTP_ADDR": envAddr}, "serve")
	p.waitReady()
	if status, _ := get(t, "http://"+envAddr, "/readyz"); status != http.StatusOK {
		t.Errorf("GET /readyz on the environment's HTTP_ADDR = %d, want 200", status)
	}
	if strings.Contains(p.stdout.String(), "JWT_SECRET") {
		t.Errorf("JWT_SECRET warning although .env sets it")
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	assertRefused(t, dotEnvAddr)
}
