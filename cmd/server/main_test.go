package main_test

// These tests run the real binary as a separate process, with an environment
// built from scratch, because what they check (exit codes, what reaches
// stdout and stderr, signals, a port that is taken) only exists at the process
// boundary. The binary is built once, in TestMain.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/example/apitemplate/internal/apitest"
)

// serverBin is the binary under test, built by TestMain.
var serverBin string

func TestMain(m *testing.M) {
	apitest.RunWithBinary(m, ".", func(bin string) { serverBin = bin })
}

const (
	testSecret = "process-test-secret-0123456789abcdef" // 36 bytes: valid in production too
	// startTimeout bounds a start, including a bcrypt hash at a high cost.
	startTimeout = 20 * time.Second
)

// start runs the server with exactly env (plus PATH and HOME), in an empty
// working directory. The process is killed when the test ends.
func start(t *testing.T, env map[string]string) *apitest.Process {
	t.Helper()
	return apitest.StartServer(t, serverBin, "", env)
}

// wantMigrated fails t unless the start-up migrations created the schema.
func wantMigrated(t *testing.T, dbURL string) {
	t.Helper()
	for table, ok := range tablesExist(t, dbURL, "users", "items", "login_failures") {
		if !ok {
			t.Errorf("table %s was not created by the start-up migrations", table)
		}
	}
}

// tablesExist reports, for each name, whether the table exists in the
// database at dbURL.
func tablesExist(t *testing.T, dbURL string, names ...string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", dbURL, err)
	}
	defer conn.Close(ctx)
	got := map[string]bool{}
	for _, n := range names {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", "public."+n).Scan(&exists); err != nil {
			t.Fatalf("look up table %s: %v", n, err)
		}
		got[n] = exists
	}
	return got
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// get fetches base+path and returns the status and body.
func get(t *testing.T, base, path string) (int, string) {
	t.Helper()
	res, err := httpClient.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read GET %s: %v", path, err)
	}
	return res.StatusCode, string(body)
}

// postJSON posts body as JSON and returns the status and response body.
func postJSON(t *testing.T, client *http.Client, base, path string, body any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	res, err := client.Post(base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read POST %s: %v", path, err)
	}
	return res.StatusCode, string(rb)
}

// assertRefused checks that addr stops accepting connections. The "shutting
// down" line is logged just before the listener closes, so a dial racing it
// may still be accepted (and served); within a second, dials must be refused.
func assertRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			if !strings.Contains(err.Error(), "refused") {
				t.Errorf("dial %s after shutdown: want connection refused, got %v", addr, err)
			}
			return
		}
		_ = conn.Close()
		if time.Now().After(deadline) {
			t.Errorf("new connections to %s were still accepted 1s after shutdown began", addr)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The documented minimal setup: only DATABASE_URL, HTTP_ADDR and JWT_SECRET,
// on a database with no tables. The server migrates it, says it is ready
// exactly once, answers the health checks over real HTTP and stops cleanly.
func TestStartsWithMinimalEnvironmentAndMigrates(t *testing.T) {
	t.Parallel()
	dbURL := apitest.EmptyDatabase(t)
	addr := apitest.FreeAddr(t)
	p := start(t, map[string]string{
		"DATABASE_URL": dbURL,
		"HTTP_ADDR":    addr,
		"JWT_SECRET":   testSecret,
	})
	p.WaitReady(t, startTimeout)

	base := "http://" + addr
	if status, body := get(t, base, "/healthz"); status != http.StatusOK || !strings.Contains(body, `"healthy"`) {
		t.Errorf("GET /healthz = %d %s, want 200 healthy", status, body)
	}
	if status, body := get(t, base, "/readyz"); status != http.StatusOK || !strings.Contains(body, `"ready"`) {
		t.Errorf("GET /readyz = %d %s, want 200 ready", status, body)
	}
	wantMigrated(t, dbURL)
	// The schema works end to end, not only exists.
	if status, body := postJSON(t, httpClient, base, "/users", map[string]string{
		"email": "a@example.com", "name": "A", "password": "password123",
	}); status != http.StatusCreated {
		t.Errorf("POST /users = %d %s, want 201", status, body)
	}

	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	ready := p.Logged(t, "server ready")
	if len(ready) != 1 {
		t.Fatalf(`"server ready" logged %d times, want once`, len(ready))
	}
	if got := ready[0]["addr"]; got != addr {
		t.Errorf(`"server ready" addr = %v, want %s`, got, addr)
	}
	if strings.Contains(p.Stdout.String(), "JWT_SECRET") {
		t.Errorf("JWT_SECRET warning logged although JWT_SECRET is set")
	}
	if s := p.Stderr.String(); s != "" {
		t.Errorf("stderr of a clean run = %q, want empty", s)
	}
}

// Migrating on start takes two connections (goose's and its lock's), and
// must get them even from a pool of one.
func TestMigratesOnStartWithAPoolOfOne(t *testing.T) {
	t.Parallel()
	dbURL := apitest.EmptyDatabase(t)
	addr := apitest.FreeAddr(t)
	p := start(t, map[string]string{
		"DATABASE_URL":      dbURL,
		"HTTP_ADDR":         addr,
		"JWT_SECRET":        testSecret,
		"DB_MAX_OPEN_CONNS": "1",
	})
	p.WaitReady(t, startTimeout)
	wantMigrated(t, dbURL)
}

// DB_AUTO_MIGRATE=false leaves an empty database alone, and the server still
// starts: migrating is then someone else's job.
func TestAutoMigrateOff(t *testing.T) {
	t.Parallel()
	dbURL := apitest.EmptyDatabase(t)
	addr := apitest.FreeAddr(t)
	p := start(t, map[string]string{
		"DATABASE_URL":    dbURL,
		"HTTP_ADDR":       addr,
		"JWT_SECRET":      testSecret,
		"DB_AUTO_MIGRATE": "false",
	})
	p.WaitReady(t, startTimeout)
	if status, body := get(t, "http://"+addr, "/readyz"); status != http.StatusOK {
		t.Errorf("GET /readyz = %d %s, want 200", status, body)
	}
	for table, ok := range tablesExist(t, dbURL, "users", "items", "login_failures", "goose_db_version") {
		if ok {
			t.Errorf("table %s exists although DB_AUTO_MIGRATE=false", table)
		}
	}
}

// Development runs with no JWT_SECRET at all, on a random one, and says so.
func TestDevelopmentWithoutJWTSecretWarns(t *testing.T) {
	t.Parallel()
	addr := apitest.FreeAddr(t)
	p := start(t, map[string]string{
		"DATABASE_URL": apitest.NewDatabase(t),
		"HTTP_ADDR":    addr,
		"BCRYPT_COST":  "4",
	})
	p.WaitReady(t, startTimeout)

	var warned bool
	for _, l := range p.LogLines(t) {
		if l["level"] == "WARN" && strings.Contains(fmt.Sprint(l["msg"]), "JWT_SECRET") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no WARN record mentioning JWT_SECRET in the log")
	}
	// The random secret is a working one.
	base := "http://" + addr
	creds := map[string]string{"email": "dev@example.com", "name": "Dev", "password": "password123"}
	if status, body := postJSON(t, httpClient, base, "/users", creds); status != http.StatusCreated {
		t.Fatalf("POST /users = %d %s", status, body)
	}
	if status, body := postJSON(t, httpClient, base, "/auth/login", creds); status != http.StatusOK || !strings.Contains(body, "access_token") {
		t.Errorf("POST /auth/login = %d %s, want 200 with a token", status, body)
	}
}

// Production accepts a JWT_SECRET of exactly the minimum length.
func TestProductionWith32ByteSecretStarts(t *testing.T) {
	t.Parallel()
	addr := apitest.FreeAddr(t)
	p := start(t, map[string]string{
		"APP_ENV":      "production",
		"DATABASE_URL": apitest.NewDatabase(t),
		"HTTP_ADDR":    addr,
		"JWT_SECRET":   strings.Repeat("s", 32),
	})
	p.WaitReady(t, startTimeout)
	if status, _ := get(t, "http://"+addr, "/healthz"); status != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", status)
	}
}

// Whatever stops the start, the process ends promptly with a non-zero code
// and one line on stderr naming the problem: never a panic or a stack trace,
// and never a "server ready".
func TestBadConfigurationFailsWithOneLine(t *testing.T) {
	t.Parallel()

	// A port that is taken: this test holds it for its whole duration.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = taken.Close() })

	// Configuration errors must be found before the database is contacted;
	// this one would not answer, so a wrong order shows as a different error.
	const unreachable = "postgres://postgres@127.0.0.1:1/app?sslmode=disable"

	tests := []struct {
		name string
		env  map[string]string
		// migrated asks for a working database, so the start gets as far
		// as the listener.
		migrated bool
		// want are substrings the stderr line must contain.
		want []string
		// within bounds the time from start to exit.
		within time.Duration
	}{
		{
			name:   "production without JWT_SECRET",
			env:    map[string]string{"APP_ENV": "production", "DATABASE_URL": unreachable},
			want:   []string{"JWT_SECRET"},
			within: 5 * time.Second,
		},
		{
			name:   "production with a 31-byte JWT_SECRET",
			env:    map[string]string{"APP_ENV": "production", "DATABASE_URL": unreachable, "JWT_SECRET": strings.Repeat("s", 31)},
			want:   []string{"JWT_SECRET"},
			within: 5 * time.Second,
		},
		{
			name:   "several configuration errors at once",
			env:    map[string]string{"APP_ENV": "production", "DATABASE_URL": unreachable, "BCRYPT_COST": "4"},
			want:   []string{"JWT_SECRET", "BCRYPT_COST"},
			within: 5 * time.Second,
		},
		{
			name:   "unparsable DATABASE_URL",
			env:    map[string]string{"DATABASE_URL": "postgres://%zz", "JWT_SECRET": testSecret},
			want:   []string{"DATABASE_URL"},
			within: 5 * time.Second,
		},
		{
			name:   "DATABASE_URL with a bad port",
			env:    map[string]string{"DATABASE_URL": "postgres://u:hunter2@127.0.0.1:notaport/app", "JWT_SECRET": testSecret},
			want:   []string{"DATABASE_URL"},
			within: 5 * time.Second,
		},
		{
			name:   "unreachable database",
			env:    map[string]string{"DATABASE_URL": unreachable, "JWT_SECRET": testSecret},
			want:   []string{"not reachable", "127.0.0.1"},
			within: 10 * time.Second,
		},
		{
			name:     "port taken",
			env:      map[string]string{"HTTP_ADDR": taken.Addr().String(), "JWT_SECRET": testSecret},
			migrated: true,
			want:     []string{"HTTP_ADDR", taken.Addr().String()},
			within:   10 * time.Second,
		},
		{
			name:     "metrics port taken",
			env:      map[string]string{"METRICS_ADDR": taken.Addr().String(), "JWT_SECRET": testSecret},
			migrated: true,
			want:     []string{"METRICS_ADDR", taken.Addr().String()},
			within:   10 * time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"HTTP_ADDR": apitest.FreeAddr(t)}
			if tc.migrated {
				env["DATABASE_URL"] = apitest.NewDatabase(t)
			}
			for k, v := range tc.env {
				env[k] = v
			}
			started := time.Now()
			p := start(t, env)
			code := p.Wait(t, tc.within)
			t.Logf("exited with %d after %v", code, time.Since(started).Round(time.Millisecond))
			if code == 0 {
				t.Errorf("exit code = 0, want non-zero")
			}
			stderr := p.Stderr.String()
			line := strings.TrimSuffix(stderr, "\n")
			if line == "" || strings.Contains(line, "\n") {
				t.Errorf("stderr is not exactly one line: %q", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("stderr %q does not mention %q", line, w)
				}
			}
			for _, bad := range []string{"goroutine", "panic", "hunter2"} {
				if strings.Contains(stderr+p.Stdout.String(), bad) {
					t.Errorf("output contains %q:\nstderr: %s\nstdout: %s", bad, stderr, p.Stdout.String())
				}
			}
			if strings.Contains(p.Stdout.String(), "server ready") {
				t.Errorf(`"server ready" logged although the start failed`)
			}
		})
	}
}

// SIGTERM in the middle of a slow request: the request still gets its normal
// answer, new connections are refused at once, and the process exits 0
// within SHUTDOWN_TIMEOUT.
func TestSIGTERMFinishesInFlightRequest(t *testing.T) {
	t.Parallel()
	const shutdownTimeout = 10 * time.Second
	addr := apitest.FreeAddr(t)
	p := start(t, map[string]string{
		"DATABASE_URL":     apitest.NewDatabase(t),
		"HTTP_ADDR":        addr,
		"JWT_SECRET":       testSecret,
		"BCRYPT_COST":      "14", // a password check takes about a second
		"SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
	})
	p.WaitReady(t, startTimeout)
	base := "http://" + addr
	creds := map[string]string{"email": "slow@example.com", "name": "Slow", "password": "password123"}
	if status, body := postJSON(t, httpClient, base, "/users", creds); status != http.StatusCreated {
		t.Fatalf("POST /users = %d %s", status, body)
	}

	type result struct {
		status int
		body   string
		err    error
	}
	wrote := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		b, _ := json.Marshal(creds)
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }}
		ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.Background(), trace), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/auth/login", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		// A connection of its own, so nothing pooled from the sign-up interferes.
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		res, err := client.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer res.Body.Close()
		rb, err := io.ReadAll(res.Body)
		done <- result{status: res.StatusCode, body: string(rb), err: err}
	}()

	select {
	case <-wrote:
	case r := <-done:
		t.Fatalf("login ended before it was sent: %+v", r)
	case <-time.After(10 * time.Second):
		t.Fatal("login request was not sent within 10s")
	}
	time.Sleep(100 * time.Millisecond) // let the server read it and start hashing
	signalled := time.Now()
	p.Signal(t, syscall.SIGTERM)

	p.WaitLog(t, "shutting down", 5*time.Second)
	select {
	case r := <-done:
		// Still checked below, but the refusal check proves less now.
		t.Logf("login finished before the refusal check: %+v", r)
		done <- r
	default:
	}
	assertRefused(t, addr)

	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("in-flight login failed: %v", r.err)
		}
		if r.status != http.StatusOK || !strings.Contains(r.body, "access_token") {
			t.Errorf("in-flight login = %d %s, want 200 with a token", r.status, r.body)
		}
	case <-time.After(shutdownTimeout):
		t.Fatal("in-flight login did not finish within SHUTDOWN_TIMEOUT")
	}
	code := p.Wait(t, shutdownTimeout)
	t.Logf("exited %v after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0; stderr: %s", code, p.Stderr.String())
	}
	if n := len(p.Logged(t, "stopped")); n != 1 {
		t.Errorf(`"stopped" logged %d times, want once`, n)
	}
	if s := p.Stderr.String(); s != "" {
		t.Errorf("stderr after a clean shutdown = %q, want empty", s)
	}
}

// SHUTDOWN_TIMEOUT bounds the wait for a request that takes longer: the
// process cuts it off on time, says so in the log, and still exits 0, the
// stop having been asked for.
func TestShutdownTimeoutBoundsTheWait(t *testing.T) {
	t.Parallel()
	const shutdownTimeout = 300 * time.Millisecond
	addr := apitest.FreeAddr(t)
	p := start(t, map[string]string{
		"DATABASE_URL":     apitest.NewDatabase(t),
		"HTTP_ADDR":        addr,
		"JWT_SECRET":       testSecret,
		"BCRYPT_COST":      "15", // an unknown email still costs one check, about 2s
		"SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
	})
	p.WaitReady(t, startTimeout)

	wrote := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }}
		ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.Background(), trace), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/auth/login",
			strings.NewReader(`{"email":"nobody@example.com","password":"password123"}`))
		req.Header.Set("Content-Type", "application/json")
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		res, err := client.Do(req)
		if err == nil {
			_ = res.Body.Close()
			err = fmt.Errorf("got a %d answer", res.StatusCode)
		}
		done <- err
	}()
	select {
	case <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("login request was not sent within 10s")
	}
	time.Sleep(100 * time.Millisecond)
	signalled := time.Now()
	p.Signal(t, syscall.SIGTERM)
	code := p.Wait(t, shutdownTimeout+2*time.Second)
	t.Logf("exited %v after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code after SHUTDOWN_TIMEOUT = %d, want 0; stderr: %s", code, p.Stderr.String())
	}
	if s := p.Stderr.String(); s != "" {
		t.Errorf("stderr = %q, want empty", s)
	}
	if len(p.Logged(t, "server ready")) != 1 || len(p.Logged(t, "stopped")) != 1 {
		t.Errorf(`want one "server ready" and one "stopped" record`)
	}
	select {
	case err := <-done:
		t.Logf("cut-off login: %v", err)
	case <-time.After(5 * time.Second):
		t.Error("the cut-off login was left hanging")
	}
}

// SIGINT (Ctrl-C) is a clean stop too.
func TestSIGINTExitsZero(t *testing.T) {
	t.Parallel()
	addr := apitest.FreeAddr(t)
	p := start(t, map[string]string{
		"DATABASE_URL": apitest.NewDatabase(t),
		"HTTP_ADDR":    addr,
		"JWT_SECRET":   testSecret,
		"BCRYPT_COST":  "4",
	})
	p.WaitReady(t, startTimeout)
	if status, _ := get(t, "http://"+addr, "/healthz"); status != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", status)
	}
	p.Signal(t, syscall.SIGINT)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code after SIGINT = %d, want 0; stderr: %s", code, p.Stderr.String())
	}
	assertRefused(t, addr)
	if n := len(p.Logged(t, "stopped")); n != 1 {
		t.Errorf(`"stopped" logged %d times, want once`, n)
	}
}

// METRICS_ADDR moves /metrics to a listener of its own, which starts and
// stops with the API's: the API answers 404 for /metrics (and counts it as
// an unmatched route), the metrics listener answers nothing but /metrics.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	t.Parallel()
	addr, metricsAddr := apitest.FreeAddr(t), apitest.FreeAddr(t)
	p := start(t, map[string]string{
		"DATABASE_URL": apitest.NewDatabase(t),
		"HTTP_ADDR":    addr,
		"METRICS_ADDR": metricsAddr,
		"JWT_SECRET":   testSecret,
		"BCRYPT_COST":  "4",
	})
	p.WaitReady(t, startTimeout)
	base, metricsBase := "http://"+addr, "http://"+metricsAddr

	for _, c := range []struct {
		base, path string
		status     int
	}{
		{base, "/healthz", http.StatusOK},
		{base, "/items/1", http.StatusNotFound},
		{base, "/metrics", http.StatusNotFound},
		{metricsBase, "/healthz", http.StatusNotFound},
		{metricsBase, "/metrics", http.StatusOK},
	} {
		if status, body := get(t, c.base, c.path); status != c.status {
			t.Errorf("GET %s%s = %d %s, want %d", c.base, c.path, status, body, c.status)
		}
	}
	status, body := get(t, metricsBase, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET %s/metrics = %d", metricsBase, status)
	}
	for _, want := range []string{
		`http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`http_requests_total{method="GET",route="/items/:id",status="404"} 1`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		"go_sql_open_connections{",
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape has no %q", want)
		}
	}

	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0; stderr: %s", code, p.Stderr.String())
	}
	assertRefused(t, addr)
	assertRefused(t, metricsAddr)
	ready := p.Logged(t, "server ready")
	if len(ready) != 1 {
		t.Fatalf(`"server ready" logged %d times, want once`, len(ready))
	}
	if got := ready[0]["addr"]; got != addr {
		t.Errorf(`"server ready" addr = %v, want %s`, got, addr)
	}
	if got := ready[0]["metrics_addr"]; got != metricsAddr {
		t.Errorf(`"server ready" metrics_addr = %v, want %s`, got, metricsAddr)
	}
}
