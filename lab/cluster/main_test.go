// Package cluster_test runs the server the way it is deployed when one
// process is not enough: several replicas of the real binary behind nginx,
// sharing one PostgreSQL database through PgBouncer in transaction pooling.
// It shows what that needs from the server (an exec mode a pooler can carry,
// migrations that run once, a shared JWT secret, throttling kept in the
// database, a graceful SIGTERM) and that a rolling restart under load loses
// nothing. The lab is a module of its own, so the service's `make test`
// stays free of pgbouncer and nginx: `make -C lab test-cluster` runs them.
package cluster_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/example/apitemplate/internal/apitest"
)

// serverBin is the binary under test, built once by TestMain.
var serverBin string

func TestMain(m *testing.M) {
	apitest.RunWithBinary(m, "github.com/example/apitemplate/cmd/server", func(bin string) { serverBin = bin })
}

// jwtSecret is shared by every replica, so a token one issues the others accept.
const jwtSecret = "cluster-test-secret-0123456789abcdef!!"

// readyTimeout is generous: replicas that start together wait for one
// another's migration, and CI machines are slow. Correctness checks are tight.
const readyTimeout = 60 * time.Second

// freePort returns a port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(apitest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// tool finds a Debian-installed daemon, which lives in /usr/sbin, often off
// a non-root user's PATH.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not installed (apt-get install %s; .ci/run does it): %v", name, name, err)
	}
	return p
}

// adminDB opens the PostgreSQL server the tests share (TEST_DATABASE_URL).
func adminDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", apitest.ServerURL())
	if err != nil {
		t.Fatalf("open %s: %v", apitest.ServerURL(), err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newDatabase creates an empty database with a name of its own on the
// shared server, dropped when the test ends, passed or failed, and returns
// its name. Empty, not cloned from a migrated template: the replicas' own
// migration is under test. Its drop is registered after the processes'
// owner but before any process, so it runs once they are gone; it ends any
// session left all the same.
func newDatabase(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(apitest.EmptyDatabase(t))
	if err != nil {
		t.Fatalf("database URL: %v", err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// directURL is the URL of database name on the PostgreSQL server itself.
func directURL(t *testing.T, name string) string {
	t.Helper()
	u, err := url.Parse(apitest.ServerURL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// openDB opens a database/sql pool on url, closed when the test ends.
func openDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// pgbouncer is a PgBouncer of the test's own in front of the shared server.
type pgbouncer struct {
	port int
	proc *apitest.Process
}

// URL is the URL of database name through this PgBouncer.
func (b *pgbouncer) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", b.port, name)
}

var pgbouncerConf = template.Must(template.New("pgbouncer.ini").Parse(`[databases]
; Any database name goes to the database of that name on the shared server.
* = host={{.Host}} port={{.Port}}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {{.Listen}}
unix_socket_dir = {{.Run}}
logfile = {{.Run}}/pgbouncer.log
pidfile = {{.Run}}/pgbouncer.pid
auth_type = trust
auth_file = {{.Run}}/users.txt
pool_mode = transaction
default_pool_size = {{.PoolSize}}
max_client_conn = 500
`))

// startPgBouncer runs PgBouncer in transaction pooling with poolSize server
// connections per database, and waits until it accepts connections.
func startPgBouncer(t *testing.T, poolSize int) *pgbouncer {
	t.Helper()
	server, err := pgx.ParseConfig(apitest.ServerURL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatalf("mkdir: %v", err)
	}
	args := []string{}
	owner := func(string) {}
	// PgBouncer refuses to run as root ("PgBouncer should not run as root"),
	// and CI runs as root. -u makes it drop to another user after reading its
	// configuration, so only the directory it writes to (socket, log, pid)
	// must be that user's, and the test's temp directories passable.
	if os.Geteuid() == 0 {
		u, err := unprivilegedUser()
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatalf("chmod %s: %v", d, err)
			}
		}
		owner = func(path string) {
			if err := os.Chown(path, uid, gid); err != nil {
				t.Fatalf("chown %s: %v", path, err)
			}
		}
		args = append(args, "-u", u.Username)
	}
	owner(run)
	port := freePort(t)
	var conf bytes.Buffer
	if err := pgbouncerConf.Execute(&conf, map[string]any{
		"Host": server.Host, "Port": server.Port, "Listen": port, "Run": run, "PoolSize": poolSize,
	}); err != nil {
		t.Fatalf("pgbouncer.ini: %v", err)
	}
	ini := filepath.Join(run, "pgbouncer.ini")
	writeFile(t, ini, conf.Bytes())
	// trust still needs the user listed; PostgreSQL itself trusts it too.
	users := filepath.Join(run, "users.txt")
	writeFile(t, users, fmt.Appendf(nil, "%q \"\"\n", server.User))
	owner(ini)
	owner(users)

	cmd := exec.Command(tool(t, "pgbouncer"), append(args, ini)...)
	p := apitest.Start(t, t, "pgbouncer", cmd, syscall.SIGTERM) // SIGTERM: immediate shutdown
	waitDial(t, p, fmt.Sprintf("127.0.0.1:%d", port))
	return &pgbouncer{port: port, proc: p}
}

// unprivilegedUser is who PgBouncer runs as under root: postgres, which the
// PostgreSQL package creates, else nobody.
func unprivilegedUser() (*user.User, error) {
	for _, name := range []string{"postgres", "nobody"} {
		if u, err := user.Lookup(name); err == nil {
			return u, nil
		}
	}
	return nil, errors.New("no user postgres or nobody for pgbouncer -u")
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// waitDial waits until addr accepts TCP connections, failing early if the
// process that should listen there has exited.
func waitDial(t *testing.T, p *apitest.Process, addr string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
			return
		}
		if p.Exited() {
			t.Fatalf("%s exited with code %d before listening on %s (its output is shown at the end)", p.Name, p.Cmd.ProcessState.ExitCode(), addr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s within %v: %v", p.Name, addr, readyTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serverEnv is the replicas' environment; extra adds to or overrides it.
func serverEnv(dbURL, addr string, extra map[string]string) []string {
	env := map[string]string{
		"PATH":         os.Getenv("PATH"),
		"HOME":         os.Getenv("HOME"),
		"DATABASE_URL": dbURL,
		"HTTP_ADDR":    addr,
		"JWT_SECRET":   jwtSecret,
		"BCRYPT_COST":  "4",
		// Request logs would cost the two CPUs more than the requests do;
		// errors are still logged.
		"LOG_LEVEL": "warn",
	}
	for k, v := range extra {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// startServer starts one server process named name; it does not wait for
// readiness. Its end is registered on owner, which must outlive every use
// of it: a replica that a subtest restarts belongs to the whole cluster
// test. (apitest.StartServer ties the process to the test that starts it,
// so it serves only when that is also the owner.)
func startServer(t, owner *testing.T, name, dbURL, addr string, extra map[string]string) *apitest.Process {
	t.Helper()
	cmd := exec.Command(serverBin)
	// An empty directory, so a developer's .env cannot change what is tested.
	cmd.Dir = owner.TempDir()
	cmd.Env = serverEnv(dbURL, addr, extra)
	return apitest.Start(t, owner, name, cmd, syscall.SIGKILL)
}

// waitReady polls GET /readyz until it answers 200.
func waitReady(t *testing.T, p *apitest.Process, base string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		status, _, _, err := call(http.MethodGet, base+"/readyz", "", nil)
		if err == nil && status == http.StatusOK {
			return
		}
		if p.Exited() {
			t.Fatalf("%s exited before it was ready (code %d; its output is shown at the end)", p.Name, p.Cmd.ProcessState.ExitCode())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %v: status %d, %v", p.Name, readyTimeout, status, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var client = &http.Client{
	Timeout:   15 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
}

// call is apitest.Call with this package's client.
func call(method, url, token string, body any) (int, http.Header, []byte, error) {
	return apitest.Call(client, method, url, token, body)
}

// mustCall is call from the test's goroutine, failing on anything but want.
func mustCall(t *testing.T, want int, method, url, token string, body any) (http.Header, []byte) {
	t.Helper()
	status, h, b, err := call(method, url, token, body)
	if err != nil {
		t.Fatal(err)
	}
	if status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, url, status, b, want)
	}
	return h, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

type itemResponse struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Owner int64  `json:"owner_id"`
}

type userResponse struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
}

const password = "password123"

// signUp creates a user through base and returns its id.
func signUp(t *testing.T, base, email string) int64 {
	t.Helper()
	_, b := mustCall(t, http.StatusCreated, http.MethodPost, base+"/users", "",
		map[string]string{"email": email, "name": "Cluster", "password": password})
	return decode[userResponse](t, b).ID
}

// login returns an access token for email, issued by whoever answers base.
func login(t *testing.T, base, email string) string {
	t.Helper()
	_, b := mustCall(t, http.StatusOK, http.MethodPost, base+"/auth/login", "",
		map[string]string{"email": email, "password": password})
	return decode[tokenResponse](t, b).AccessToken
}
