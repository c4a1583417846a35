package main_test

// Process tests for the subcommands: what they print, where, and their exit
// statuses, through the binary TestMain builds.

import (
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
