// Command load is `make bench`: it runs the template server and the plain
// net/http + pgxpool baseline (bench/baseline) side by side on a fresh,
// seeded database, drives both with the same closed-loop load and prints
// throughput, latency, memory and start-up time with the template/baseline
// ratios and a PASS/FAIL line per target.
//
// Runs alternate between the servers (A B A B) within every case, so a burst
// of noise from other work on the machine lands on both rather than on one.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/example/apitemplate/repositories"
)

// The secret both servers verify tokens with; 32+ bytes, as production needs.
const jwtSecret = "bench-secret-bench-secret-bench-secret!"

// Targets, from the issue: ratios are template/baseline.
const (
	minReadRatio   = 0.85 // GET /items/{id}, GET /items?limit=20
	minAuthRatio   = 0.80 // POST /items, GET /users/me
	minHealthRatio = 0.80 // GET / against the bare net/http handler
	maxP99Ratio    = 1.3
	maxRSSBytes    = 60 << 20
	maxReady       = 200 * time.Millisecond
)

type options struct {
	server, baseline string
	dbServer         string
	conns            int
	duration, warmup time.Duration
	rounds           int
	items            int
	starts           int
	only             string
}

func main() {
	var o options
	flag.StringVar(&o.server, "server", "bin/server", "template server binary")
	flag.StringVar(&o.baseline, "baseline", "bin/baseline", "baseline server binary")
	flag.StringVar(&o.dbServer, "db", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server to create the bench database on")
	flag.IntVar(&o.conns, "conns", 64, "concurrent connections (closed loop: one request in flight each)")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured time per case, per server, per round")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured load before every measured run")
	flag.IntVar(&o.rounds, "rounds", 4, "rounds per case (each round runs template then baseline); short, many rounds cancel noise best")
	flag.IntVar(&o.items, "items", 10000, "items to seed")
	flag.IntVar(&o.starts, "starts", 3, "starts per server to time exec-to-ready (the median is reported)")
	flag.StringVar(&o.only, "only", "", "run only the cases whose name contains this, e.g. POST")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) (err error) {
	ctx := context.Background()
	dbURL, drop, err := createDatabase(ctx, o.dbServer)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, drop()) }()
	userID, maxItem, err := seed(ctx, dbURL, o.items)
	if err != nil {
		return err
	}
	token, err := signToken(userID)
	if err != nil {
		return err
	}

	// The template reads .env from its working directory; the bench runs
	// both servers in an empty one, so a developer's .env cannot change
	// what is measured.
	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	servers := []*server{
		{name: "template", bin: o.server, env: []string{"APP_ENV=production"}},
		{name: "baseline", bin: o.baseline},
	}
	for _, s := range servers {
		s.env = append(s.env, "DATABASE_URL="+dbURL, "JWT_SECRET="+jwtSecret)
		if s.bin, err = filepath.Abs(s.bin); err != nil {
			return fmt.Errorf("%s binary: %w", s.name, err)
		}
		s.dir = dir
		if err := s.start(o.starts); err != nil {
			return err
		}
		defer s.stop()
	}
	if err := compareShapes(servers, token); err != nil {
		return err
	}

	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s/%s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Printf("load: %d connections, closed loop; per case %d round(s) x (%s warm-up + %s measured) per server, interleaved template/baseline; %d items seeded\n\n",
		o.conns, o.rounds, o.warmup, o.duration, o.items)

	var results []caseResult
	for _, c := range cases(maxItem, token) {
		if !strings.Contains(c.name, o.only) {
			continue
		}
		r := caseResult{name: c.name}
		for range o.rounds {
			for i, s := range servers {
				c.drive(s, o.conns, o.warmup, nil)
				c.drive(s, o.conns, o.duration, &r.stats[i])
			}
		}
		results = append(results, r)
	}
	for _, s := range servers {
		s.rss, err = peakRSS(s.cmd.Process.Pid)
		if err != nil {
			return err
		}
	}
	return report(results, servers)
}

// createDatabase makes a database of the run's own and returns its URL and
// the function that drops it.
func createDatabase(ctx context.Context, serverURL string) (string, func() error, error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", serverURL, err)
	}
	name := fmt.Sprintf("bench_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		_ = conn.Close(ctx)
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	cfg := conn.Config()
	dbURL := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	drop := func() error {
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return dbURL, drop, nil
}

const (
	seedUser = `
		INSERT INTO users (email, name, password_hash)
		VALUES ('bench@example.com', 'Bench', 'unused: the bench signs its token instead of logging in')
		RETURNING id`
	seedItems = `
		INSERT INTO items (name, description, price_cents, owner_id)
		SELECT 'item ' || i, 'seeded for the benchmark', i * 100, $1
		FROM generate_series(1, $2::int) AS i`
	seedMaxItem = `SELECT max(id) FROM items`
)

// seed migrates the database, as the template would on start, so both
// servers start against a current schema, then adds a user and the items.
func seed(ctx context.Context, dbURL string, items int) (userID, maxItem int64, err error) {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return 0, 0, fmt.Errorf("bench database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer func() { _ = db.Close() }()
	if err := repositories.Migrate(ctx, db); err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	if err := db.QueryRowContext(ctx, seedUser).Scan(&userID); err != nil {
		return 0, 0, fmt.Errorf("seed user: %w", err)
	}
	if _, err := db.ExecContext(ctx, seedItems, userID, items); err != nil {
		return 0, 0, fmt.Errorf("seed items: %w", err)
	}
	var maxID sql.NullInt64
	if err := db.QueryRowContext(ctx, seedMaxItem).Scan(&maxID); err != nil || !maxID.Valid {
		return 0, 0, fmt.Errorf("seeded items: %w", errors.Join(err, errors.New("none found")))
	}
	if _, err := db.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
		return 0, 0, fmt.Errorf("analyze: %w", err)
	}
	return userID, maxID.Int64, nil
}

// signToken issues the token POST /auth/login would, without spending a
// bcrypt comparison on it.
func signToken(userID int64) (string, error) {
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   strconv.FormatInt(userID, 10),
		Issuer:    "apitemplate",
		Audience:  jwt.ClaimStrings{"apitemplate"},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}).SignedString([]byte(jwtSecret))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

type server struct {
	name, bin string
	dir       string // working directory
	env       []string
	addr      string
	cmd       *exec.Cmd
	ready     time.Duration // median exec-to-ready
	rss       int64
	client    *http.Client
}

// start runs the server n times, timing exec to the first 200 on /readyz,
// and leaves the last one running.
func (s *server) start(n int) error {
	var times []time.Duration
	for i := range n {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.addr = "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.CommandContext(context.Background(), s.bin) //nolint:gosec // the binaries are the bench's own arguments; stop ends them
		cmd.Env = append(os.Environ(), append(s.env, "HTTP_ADDR="+s.addr)...)
		cmd.Dir = s.dir
		cmd.Stdout = nil // /dev/null: logging stays on, its output is not the point
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		began := time.Now()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", s.name, err)
		}
		s.cmd = cmd
		if err := waitReady(s.addr, 10*time.Second); err != nil {
			s.stop()
			return fmt.Errorf("%s: %w; stderr: %s", s.name, err, stderr.String())
		}
		times = append(times, time.Since(began))
		if i < n-1 {
			s.stop()
		}
	}
	slices.Sort(times)
	s.ready = times[len(times)/2]
	s.client = &http.Client{Transport: &http.Transport{
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     time.Minute,
	}}
	return nil
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

func freePort() (int, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /readyz every millisecond: the start-up target is in
// milliseconds, so a coarser poll would hide it.
func waitReady(addr string, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+"/readyz", nil)
		if res, err := client.Do(req); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("not ready on %s within %s", addr, limit)
}

// peakRSS is the process's high-water resident set (VmHWM).
func peakRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status: %w", pid, sc.Err())
}

// compareShapes checks that both servers answer the measured routes with the
// same status and the same JSON, so the comparison is of like with like.
func compareShapes(servers []*server, token string) error {
	for _, path := range []string{"/", "/items/1", "/items?limit=2", "/users/me"} {
		var bodies [][]byte
		for _, s := range servers {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+s.addr+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := s.client.Do(req)
			if err != nil {
				return fmt.Errorf("%s GET %s: %w", s.name, path, err)
			}
			b, err := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK {
				return fmt.Errorf("%s GET %s: %d %s %w", s.name, path, res.StatusCode, b, err)
			}
			bodies = append(bodies, bytes.TrimSpace(b))
		}
		if !bytes.Equal(bodies[0], bodies[1]) {
			return fmt.Errorf("GET %s differs:\n  template: %s\n  baseline: %s", path, bodies[0], bodies[1])
		}
	}
	return nil
}

// benchCase is one route under load.
type benchCase struct {
	name   string
	method string
	path   func(r *rand.Rand) string
	body   []byte
	token  string
	want   int
	// minRatio is the throughput target against the baseline.
	minRatio float64
}

func cases(maxItem int64, token string) []benchCase {
	fixed := func(p string) func(*rand.Rand) string { return func(*rand.Rand) string { return p } }
	// POST /items runs last: the rows it adds would otherwise make the
	// count(*) behind GET /items differ between runs.
	return []benchCase{
		{name: "GET /", method: http.MethodGet, path: fixed("/"), want: http.StatusOK, minRatio: minHealthRatio},
		{name: "GET /items/{id}", method: http.MethodGet, want: http.StatusOK, minRatio: minReadRatio,
			path: func(r *rand.Rand) string { return "/items/" + strconv.FormatInt(1+r.Int64N(maxItem), 10) }},
		{name: "GET /items?limit=20", method: http.MethodGet, path: fixed("/items?limit=20"), want: http.StatusOK, minRatio: minReadRatio},
		{name: "GET /users/me", method: http.MethodGet, path: fixed("/users/me"), token: token, want: http.StatusOK, minRatio: minAuthRatio},
		{name: "POST /items", method: http.MethodPost, path: fixed("/items"), token: token, want: http.StatusCreated, minRatio: minAuthRatio,
			body: []byte(`{"name":"Teapot","description":"Short and stout","price_cents":1999}`)},
	}
}

type stats struct {
	requests  int
	errors    int
	elapsed   time.Duration
	latencies []time.Duration
	firstErr  string
}

type caseResult struct {
	name  string
	stats [2]stats // template, baseline
}

// drive keeps conns requests in flight against s for d; with into nil it
// is a warm-up and records nothing.
func (c benchCase) drive(s *server, conns int, d time.Duration, into *stats) {
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		deadline = time.Now().Add(d)
		began    = time.Now()
	)
	for w := range conns {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano()))) //nolint:gosec // picks ids, not secrets
			lat := make([]time.Duration, 0, 4096)
			var errs int
			var firstErr string
			for time.Now().Before(deadline) {
				t0 := time.Now()
				status, err := c.do(s, rng)
				lat = append(lat, time.Since(t0))
				if err != nil || status != c.want {
					errs++
					if firstErr == "" {
						firstErr = fmt.Sprintf("status %d, error %v", status, err)
					}
				}
			}
			if into == nil {
				return
			}
			mu.Lock()
			into.requests += len(lat)
			into.errors += errs
			into.latencies = append(into.latencies, lat...)
			if into.firstErr == "" {
				into.firstErr = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if into != nil {
		into.elapsed += time.Since(began)
	}
}

func (c benchCase) do(s *server, rng *rand.Rand) (int, error) {
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(context.Background(), c.method, "http://"+s.addr+c.path(rng), body)
	if err != nil {
		return 0, fmt.Errorf("new request: %w", err)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("do: %w", err)
	}
	_, err = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if err != nil {
		return res.StatusCode, fmt.Errorf("read body: %w", err)
	}
	return res.StatusCode, nil
}

func (s *stats) rps() float64 { return float64(s.requests) / s.elapsed.Seconds() }

func (s *stats) percentile(p float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	slices.Sort(s.latencies)
	return s.latencies[min(len(s.latencies)-1, int(p*float64(len(s.latencies))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func report(results []caseResult, servers []*server) error {
	fmt.Printf("%-20s | %28s | %28s | %6s | %6s\n", "case", "template rps  p50  p99  err", "baseline rps  p50  p99  err", "rps", "p99")
	fmt.Printf("%-20s | %28s | %28s | %6s | %6s\n", "", "", "", "ratio", "ratio")
	fmt.Println(strings.Repeat("-", 100))
	type verdict struct {
		ok   bool
		line string
	}
	var verdicts []verdict
	check := func(ok bool, format string, args ...any) {
		verdicts = append(verdicts, verdict{ok, fmt.Sprintf(format, args...)})
	}
	for _, r := range results {
		t, b := &r.stats[0], &r.stats[1]
		ratio := t.rps() / b.rps()
		tp99, bp99 := t.percentile(0.99), b.percentile(0.99)
		p99Ratio := float64(tp99) / float64(bp99)
		fmt.Printf("%-20s | %8.0f %8s %8s %3d | %8.0f %8s %8s %3d | %6.2f | %6.2f\n",
			r.name, t.rps(), ms(t.percentile(0.5)), ms(tp99), t.errors,
			b.rps(), ms(b.percentile(0.5)), ms(bp99), b.errors, ratio, p99Ratio)
		target := 0.0
		for _, c := range cases(1, "") {
			if c.name == r.name {
				target = c.minRatio
			}
		}
		check(ratio >= target, "%s: rps ratio %.2f >= %.2f", r.name, ratio, target)
		check(p99Ratio <= maxP99Ratio, "%s: p99 %s <= %.1f x baseline %s (%.2fx)", r.name, ms(tp99), maxP99Ratio, ms(bp99), p99Ratio)
		errLine := fmt.Sprintf("%s: errors template %d, baseline %d", r.name, t.errors, b.errors)
		if t.errors+b.errors > 0 {
			errLine += " (first: " + strings.TrimSpace(t.firstErr+" "+b.firstErr) + ")"
		}
		check(t.errors == 0 && b.errors == 0, "%s", errLine)
	}
	fmt.Println()
	for _, s := range servers {
		fmt.Printf("%-8s peak RSS (VmHWM) %6.1f MB, exec to first 200 on /readyz %s (median)\n", s.name, float64(s.rss)/(1<<20), ms(s.ready))
	}
	t := servers[0]
	check(t.rss <= maxRSSBytes, "template peak RSS %.1f MB <= %d MB", float64(t.rss)/(1<<20), maxRSSBytes>>20)
	check(t.ready <= maxReady, "template exec-to-ready %s <= %s", ms(t.ready), ms(maxReady))
	fmt.Println()
	passed := 0
	for _, v := range verdicts {
		mark := "FAIL"
		if v.ok {
			mark = "PASS"
			passed++
		}
		fmt.Printf("%s  %s\n", mark, v.line)
	}
	fmt.Printf("\n%d of %d targets met\n", passed, len(verdicts))
	return nil
}
