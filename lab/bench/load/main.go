// Command load is `make bench`: it runs the template server and two
// net/http + pgxpool yardsticks side by side on a fresh, seeded database,
// drives all three with the same closed-loop load and prints throughput,
// latency, server CPU per request, memory and start-up time with the
// template's ratios to each yardstick and a PASS/FAIL line per target:
//
//   - plain (bench/plain) does only each route's work: the physical limit.
//   - same-work (bench/baseline) adds what the template must do on every
//     request too: a request id, the security headers, an access-log line.
//
// Runs alternate between the servers (A B C A B C) within every case, so a
// burst of noise from other work on the machine lands on all of them rather
// than on one. Then the cost of tracing (tracing.go): the template with
// tracing off, off again and on, interleaved the same way; then a sign-up
// flood (flood.go) runs against a template server of its own.
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
	"regexp"
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

// Targets, from the issues: ratios are template/yardstick.
const (
	// Against the same-work yardstick: what the structure costs.
	minReadRatio   = 0.85 // GET /items/{id}, GET /items?limit=20
	minAuthRatio   = 0.80 // POST /items, GET /users/me
	minHealthRatio = 0.80 // GET /
	maxP99Ratio    = 1.3

	// Against the plain yardstick: what the template costs in all.
	minPlainReadRatio   = 0.85 // GET /items/{id}
	minPlainHealthRatio = 0.80 // GET /
	maxPlainCPURatio    = 1.3  // GET /, GET /items/{id}: server CPU per request

	maxRSSBytes = 60 << 20
	maxReady    = 200 * time.Millisecond
)

// Server names, in the order every round runs them.
const (
	templateName = "template"
	sameWorkName = "same-work"
	plainName    = "plain"
)

type options struct {
	server, baseline, plain string
	dbServer                string
	conns                   int
	duration, warmup        time.Duration
	rounds                  int
	items                   int
	starts                  int
	only                    *regexp.Regexp
	profileDir              string
	flood                   floodOptions
}

func main() {
	var o options
	flag.StringVar(&o.server, "server", "bin/server", "template server binary")
	flag.StringVar(&o.baseline, "baseline", "bin/baseline", "same-work yardstick binary (bench/baseline)")
	flag.StringVar(&o.plain, "plain", "bin/plain", "plain yardstick binary (bench/plain)")
	flag.StringVar(&o.dbServer, "db", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server to create the bench database on")
	flag.IntVar(&o.conns, "conns", 64, "concurrent connections (closed loop: one request in flight each)")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured time per case, per server, per round")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured load before every measured run")
	flag.IntVar(&o.rounds, "rounds", 4, "rounds per case (each round runs template, same-work, plain); short, many rounds cancel noise best")
	flag.IntVar(&o.items, "items", 10000, "items to seed")
	flag.IntVar(&o.starts, "starts", 3, "starts per server to time exec-to-ready (the median is reported)")
	only := flag.String("only", "", "run only the cases whose name matches this regular expression, e.g. POST, '^GET /$', tracing or flood")
	flag.StringVar(&o.profileDir, "cpuprofile", "", "directory to write each server's CPU profile to (<name>.prof), through CPU_PROFILE: run with -server bin/profserver (CPU_PROFILE=file in the bench's environment profiles the template only)")
	flag.IntVar(&o.flood.clients, "flood-clients", 200, "concurrent sign-up clients in the flood")
	flag.DurationVar(&o.flood.duration, "flood-duration", 25*time.Second, "measured time of the flood (HASH_QUEUE_TIMEOUT is 20s: longer shows the 503s)")
	flag.DurationVar(&o.flood.alone, "flood-alone", 10*time.Second, "measured time of the reads alone, and of the uncontended sign-ups")
	flag.Float64Var(&o.flood.readRate, "flood-read-rate", 200, "GET /items/{id} per second, paced, alone and during the flood")
	flag.Func("flood-env", "NAME=value for the flood's server, over the defaults it is measured with (repeatable), e.g. HASH_WORKERS=1 to experiment", func(v string) error {
		if !strings.Contains(v, "=") {
			return errors.New("want NAME=value")
		}
		o.flood.env = append(o.flood.env, v)
		return nil
	})
	flag.Parse()
	var err error
	if o.only, err = regexp.Compile(*only); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -only:", err)
		os.Exit(2)
	}
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
	// The bench's own connection, to find each server's PostgreSQL
	// backends by their application_name.
	watch, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to the bench database: %w", err)
	}
	defer func() { _ = watch.Close(ctx) }()

	// The template reads .env from its working directory; the bench runs
	// both servers in an empty one, so a developer's .env cannot change
	// what is measured.
	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	newServer := func(name, bin string, env ...string) (*server, error) {
		s := &server{name: name, dir: dir, db: watch, appName: applicationName(name)}
		s.env = append(env, "DATABASE_URL="+dbURL+"&application_name="+s.appName, "JWT_SECRET="+jwtSecret)
		switch {
		case o.profileDir != "":
			s.env = append(s.env, "CPU_PROFILE="+filepath.Join(o.profileDir, name+".prof"))
		case name == templateName && os.Getenv("CPU_PROFILE") != "":
			// The older way, which the README shows: the template only.
			s.env = append(s.env, "CPU_PROFILE="+os.Getenv("CPU_PROFILE"))
		}
		if s.bin, err = filepath.Abs(bin); err != nil {
			return nil, fmt.Errorf("%s binary: %w", s.name, err)
		}
		return s, nil
	}

	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s/%s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	var results []caseResult
	var servers []*server
	if cs := selected(cases(maxItem, token), o.only); len(cs) > 0 {
		for _, n := range []struct{ name, bin, env string }{
			{templateName, o.server, "APP_ENV=production"},
			{sameWorkName, o.baseline, ""},
			{plainName, o.plain, ""},
		} {
			s, err := newServer(n.name, n.bin, n.env)
			if err != nil {
				return err
			}
			if err := s.start(o.starts); err != nil {
				return err
			}
			defer s.stop()
			servers = append(servers, s)
		}
		if err := compareShapes(servers, token); err != nil {
			return err
		}
		fmt.Printf("load: %d connections, closed loop; per case %d round(s) x (%s warm-up + %s measured) per server, interleaved %s; %d items seeded\n",
			o.conns, o.rounds, o.warmup, o.duration, strings.Join([]string{templateName, sameWorkName, plainName}, "/"), o.items)
		fmt.Printf("server CPU: utime+stime of the server process (/proc/PID/stat) over each measured run, divided by the requests it answered\n")
		fmt.Printf("DB CPU: the same for the PostgreSQL backends the server's connections use (found by application_name); - when PostgreSQL runs elsewhere\n\n")
		for _, c := range cs {
			r := caseResult{name: c.name}
			for range o.rounds {
				for i, s := range servers {
					if err := c.drive(s, o.conns, o.warmup, nil); err != nil {
						return err
					}
					if err := c.drive(s, o.conns, o.duration, &r.stats[i]); err != nil {
						return err
					}
				}
			}
			results = append(results, r)
		}
		for _, s := range servers {
			s.rss, err = peakRSS(s.cmd.Process.Pid)
			if err != nil {
				return err
			}
			// Its 20 connections go back to PostgreSQL, which the flood's
			// server needs too and other work on the machine may share.
			s.stop()
		}
	}
	var verdicts []verdict
	if len(results) > 0 {
		verdicts = report(results, servers)
	}
	if o.only.MatchString(writesName) {
		v, err := runWrites(newServer, o.server, token, o)
		if err != nil {
			return err
		}
		verdicts = append(verdicts, v...)
	}
	if o.only.MatchString(tracingName) {
		v, err := runTracing(newServer, o.server, cases(maxItem, token), o)
		if err != nil {
			return err
		}
		verdicts = append(verdicts, v...)
	}
	if o.only.MatchString(floodName) {
		// A template process of its own, after the others have stopped
		// being measured: the flood leaves thousands of users and a queue
		// behind, and must not move the RSS above.
		s, err := newServer(templateName+" (flood)", o.server, append([]string{"APP_ENV=production", "BCRYPT_COST=12"}, o.flood.env...)...)
		if err != nil {
			return err
		}
		s.drop = []string{"BCRYPT_COST", "HASH_WORKERS", "HASH_QUEUE_TIMEOUT"} // the defaults are what is measured
		if err := s.start(1); err != nil {
			return err
		}
		v, err := runFlood(s, dbURL, maxItem, o.flood)
		s.stop()
		if err != nil {
			return err
		}
		verdicts = append(verdicts, v...)
	}
	printVerdicts(verdicts)
	return nil
}

// selected are the cases whose name only matches.
func selected(cs []benchCase, only *regexp.Regexp) []benchCase {
	var out []benchCase
	for _, c := range cs {
		if only.MatchString(c.name) {
			out = append(out, c)
		}
	}
	return out
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
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": strconv.FormatInt(userID, 10),
		"iss": "apitemplate",
		"aud": jwt.ClaimStrings{"apitemplate"},
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"gen": 1, // a new user's token generation (users.token_generation)
	}).SignedString([]byte(jwtSecret))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

type server struct {
	name, bin string
	dir       string   // working directory
	env       []string // added to the bench's own environment
	drop      []string // variables of the bench's environment not to pass on
	addr      string
	cmd       *exec.Cmd
	ready     time.Duration // median exec-to-ready
	rss       int64
	client    *http.Client
	appName   string    // its connections' application_name
	db        *pgx.Conn // the bench's connection, to find them
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
		cmd.Env = append(environ(append(s.drop, "CPU_PROFILE")), append(s.env, "HTTP_ADDR="+s.addr)...)
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

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 for what it reports to user space on every
// architecture the bench runs on.
const userHZ = 100

// cpuTime is the CPU the process has used so far, in user and kernel mode,
// all of its threads together: utime + stime in /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read server CPU time: %w", err)
	}
	// The command name, field 2, is in parentheses and may hold spaces;
	// the fields after it start with field 3, the state.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name in %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command name", pid, len(f))
	}
	var ticks int64
	for _, v := range f[11:13] { // fields 14 and 15: utime, stime
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// applicationName is the application_name of a server's connections: its
// name in the characters a URL and pg_stat_activity keep as they are.
func applicationName(server string) string {
	return "bench-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(server))
}

// dbCPU is the CPU each PostgreSQL backend serving s has used so far, by
// process id. A backend whose /proc entry cannot be read (PostgreSQL on
// another machine, or a connection that has just closed) is left out.
func (s *server) dbCPU() (map[int]time.Duration, error) {
	rows, err := s.db.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, s.appName)
	if err != nil {
		return nil, fmt.Errorf("find the backends of %s: %w", s.name, err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("find the backends of %s: %w", s.name, err)
	}
	cpu := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if t, err := cpuTime(pid); err == nil {
			cpu[pid] = t
		}
	}
	return cpu, nil
}

// environ is the bench's environment without the variables named, and
// without any OTEL_* variable: a server is traced only when the bench says
// so (tracing.go), never because the shell it runs in exports an endpoint.
func environ(drop []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, name) && !strings.HasPrefix(name, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
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

// compareShapes checks that every server answers the measured routes with
// the same status and the same JSON, so the comparison is of like with like.
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
		for i := 1; i < len(bodies); i++ {
			if !bytes.Equal(bodies[0], bodies[i]) {
				return fmt.Errorf("GET %s differs:\n  %s: %s\n  %s: %s", path, servers[0].name, bodies[0], servers[i].name, bodies[i])
			}
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
	// minRatio is the throughput target against the same-work yardstick.
	minRatio float64
	// Targets against the plain yardstick; 0 is none.
	minPlainRatio float64 // throughput
	maxPlainCPU   float64 // server CPU per request

	// For requests that depend on the connection sending them (writes.go):
	// pathFor replaces path, header adds to each request, and answered
	// sees each answer's headers; w is the connection's number.
	pathFor  func(w int) string
	header   func(w int) http.Header
	answered func(w int, h http.Header)
}

func cases(maxItem int64, token string) []benchCase {
	fixed := func(p string) func(*rand.Rand) string { return func(*rand.Rand) string { return p } }
	// POST /items runs last: the rows it adds would otherwise make the
	// count(*) behind GET /items differ between runs.
	return []benchCase{
		{name: "GET /", method: http.MethodGet, path: fixed("/"), want: http.StatusOK, minRatio: minHealthRatio,
			minPlainRatio: minPlainHealthRatio, maxPlainCPU: maxPlainCPURatio},
		{name: "GET /items/{id}", method: http.MethodGet, want: http.StatusOK, minRatio: minReadRatio,
			minPlainRatio: minPlainReadRatio, maxPlainCPU: maxPlainCPURatio,
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
	cpu       time.Duration // the server's, over the measured runs
	dbCPU     time.Duration // its PostgreSQL backends', over the same runs
	dbSeen    bool          // whether any backend's CPU could be read
	latencies []time.Duration
	firstErr  string
}

// add merges o's figures into s.
func (s *stats) add(o *stats) {
	s.requests += o.requests
	s.errors += o.errors
	s.elapsed += o.elapsed
	s.cpu += o.cpu
	s.latencies = append(s.latencies, o.latencies...)
	if s.firstErr == "" {
		s.firstErr = o.firstErr
	}
}

type caseResult struct {
	name  string
	stats [3]stats // template, same-work, plain
}

// drive keeps conns requests in flight against s for d; with into nil it
// is a warm-up and records nothing.
func (c benchCase) drive(s *server, conns int, d time.Duration, into *stats) error {
	var cpu0 time.Duration
	var db0 map[int]time.Duration
	if into != nil {
		var err error
		if cpu0, err = cpuTime(s.cmd.Process.Pid); err != nil {
			return err
		}
		if db0, err = s.dbCPU(); err != nil {
			return err
		}
	}
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
				status, err := c.do(s, w, rng)
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
			into.add(&stats{requests: len(lat), errors: errs, latencies: lat, firstErr: firstErr})
			mu.Unlock()
		})
	}
	wg.Wait()
	if into == nil {
		return nil
	}
	into.elapsed += time.Since(began)
	cpu1, err := cpuTime(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	into.cpu += cpu1 - cpu0
	db1, err := s.dbCPU()
	if err != nil {
		return err
	}
	// A backend that is new since the start was opened during the run:
	// all of its CPU is the run's.
	for pid, t := range db1 {
		into.dbCPU += t - db0[pid]
		into.dbSeen = true
	}
	return nil
}

func (c benchCase) do(s *server, w int, rng *rand.Rand) (int, error) {
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	var path string
	if c.pathFor != nil {
		path = c.pathFor(w)
	} else {
		path = c.path(rng)
	}
	req, err := http.NewRequestWithContext(context.Background(), c.method, "http://"+s.addr+path, body)
	if err != nil {
		return 0, fmt.Errorf("new request: %w", err)
	}
	if c.header != nil {
		for name, values := range c.header(w) {
			req.Header[name] = values
		}
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
	if c.answered != nil {
		c.answered(w, res.Header)
	}
	return res.StatusCode, nil
}

func (s *stats) rps() float64 { return float64(s.requests) / s.elapsed.Seconds() }

// cpuPerRequest is the server's CPU time per request answered.
func (s *stats) cpuPerRequest() time.Duration {
	if s.requests == 0 {
		return 0
	}
	return s.cpu / time.Duration(s.requests)
}

// dbCPUPerRequest is the CPU of the server's PostgreSQL backends per
// request answered.
func (s *stats) dbCPUPerRequest() time.Duration {
	if s.requests == 0 {
		return 0
	}
	return s.dbCPU / time.Duration(s.requests)
}

// dbCPUText is dbCPUPerRequest for a table, or "-" when no backend's CPU
// could be read.
func (s *stats) dbCPUText() string {
	if !s.dbSeen {
		return "-"
	}
	return us(s.dbCPUPerRequest())
}

func (s *stats) percentile(p float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	slices.Sort(s.latencies)
	return s.latencies[min(len(s.latencies)-1, int(p*float64(len(s.latencies))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func us(d time.Duration) string { return fmt.Sprintf("%.1fµs", float64(d.Nanoseconds())/1000) }

type verdict struct {
	ok   bool
	line string
}

func check(vs *[]verdict, ok bool, format string, args ...any) {
	*vs = append(*vs, verdict{ok, fmt.Sprintf(format, args...)})
}

// report prints the figures of every server and the template's ratios to
// each yardstick, and returns the verdicts on the targets.
func report(results []caseResult, servers []*server) []verdict {
	fmt.Printf("%-20s %-10s | %8s %9s %9s %6s | %10s %11s\n", "case", "server", "rps", "p50", "p99", "errors", "CPU/req", "DB CPU/req")
	fmt.Println(strings.Repeat("-", 96))
	for _, r := range results {
		for i, s := range servers {
			st := &r.stats[i]
			name := r.name
			if i > 0 {
				name = ""
			}
			fmt.Printf("%-20s %-10s | %8.0f %9s %9s %6d | %10s %11s\n",
				name, s.name, st.rps(), ms(st.percentile(0.5)), ms(st.percentile(0.99)), st.errors, us(st.cpuPerRequest()), st.dbCPUText())
		}
	}
	fmt.Println()
	fmt.Printf("%-20s %-14s | %6s %6s %6s %8s %11s\n", "template / yardstick", "", "rps", "p50", "p99", "CPU/req", "DB CPU/req")
	fmt.Println(strings.Repeat("-", 80))
	ratio := func(t, y float64) float64 { return t / y }
	var verdicts []verdict
	for _, r := range results {
		t := &r.stats[0]
		var c benchCase
		for _, cc := range cases(1, "") {
			if cc.name == r.name {
				c = cc
			}
		}
		for i, y := range []*stats{&r.stats[2], &r.stats[1]} {
			name, vs := r.name, "vs "+plainName
			if i > 0 {
				name, vs = "", "vs "+sameWorkName
			}
			db := "-"
			if t.dbSeen && y.dbSeen {
				db = fmt.Sprintf("%.2f", ratio(float64(t.dbCPUPerRequest()), float64(y.dbCPUPerRequest())))
			}
			fmt.Printf("%-20s %-14s | %6.2f %6.2f %6.2f %8.2f %11s\n", name, vs,
				ratio(t.rps(), y.rps()),
				ratio(float64(t.percentile(0.5)), float64(y.percentile(0.5))),
				ratio(float64(t.percentile(0.99)), float64(y.percentile(0.99))),
				ratio(float64(t.cpuPerRequest()), float64(y.cpuPerRequest())),
				db)
		}
		p, w := &r.stats[2], &r.stats[1]
		if c.minPlainRatio > 0 {
			rr := ratio(t.rps(), p.rps())
			check(&verdicts, rr >= c.minPlainRatio, "[vs plain] %s: rps ratio %.2f >= %.2f (%.0f vs %.0f)", r.name, rr, c.minPlainRatio, t.rps(), p.rps())
		}
		if c.maxPlainCPU > 0 {
			cr := ratio(float64(t.cpuPerRequest()), float64(p.cpuPerRequest()))
			check(&verdicts, cr <= c.maxPlainCPU, "[vs plain] %s: server CPU per request %.2fx <= %.2fx (%s vs %s)",
				r.name, cr, c.maxPlainCPU, us(t.cpuPerRequest()), us(p.cpuPerRequest()))
		}

		rr := ratio(t.rps(), w.rps())
		check(&verdicts, rr >= c.minRatio, "[vs same-work] %s: rps ratio %.2f >= %.2f", r.name, rr, c.minRatio)
		tp99, wp99 := t.percentile(0.99), w.percentile(0.99)
		p99Ratio := float64(tp99) / float64(wp99)
		check(&verdicts, p99Ratio <= maxP99Ratio, "[vs same-work] %s: p99 %s <= %.1f x same-work %s (%.2fx)", r.name, ms(tp99), maxP99Ratio, ms(wp99), p99Ratio)
		errs, total, first := make([]string, len(servers)), 0, ""
		for i, s := range servers {
			errs[i] = fmt.Sprintf("%s %d", s.name, r.stats[i].errors)
			total += r.stats[i].errors
			if first == "" && r.stats[i].firstErr != "" {
				first = s.name + ": " + r.stats[i].firstErr
			}
		}
		errLine := fmt.Sprintf("[all] %s: errors %s", r.name, strings.Join(errs, ", "))
		if total > 0 {
			errLine += " (first: " + first + ")"
		}
		check(&verdicts, total == 0, "%s", errLine)
	}
	fmt.Println()
	for _, s := range servers {
		fmt.Printf("%-10s peak RSS (VmHWM) %6.1f MB, exec to first 200 on /readyz %s (median)\n", s.name, float64(s.rss)/(1<<20), ms(s.ready))
	}
	t := servers[0]
	check(&verdicts, t.rss <= maxRSSBytes, "[template] peak RSS %.1f MB <= %d MB", float64(t.rss)/(1<<20), maxRSSBytes>>20)
	check(&verdicts, t.ready <= maxReady, "[template] exec-to-ready %s <= %s", ms(t.ready), ms(maxReady))
	return verdicts
}

func printVerdicts(verdicts []verdict) {
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
}
