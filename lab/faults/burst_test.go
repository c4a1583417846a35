package faults_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/apitest"
)

// shot is what one request of a burst got.
type shot struct {
	status     int
	detail     string // the problem's detail, for an error status
	retryAfter string
	body       []byte
	err        error // no answer at all: the connection was closed or timed out
	elapsed    time.Duration
}

// burstClient keeps a connection per request of the largest burst, and
// waits longer than the server's 30s write timeout: a request the server
// drops must show as a transport error, not as the client giving up.
func burstClient(t *testing.T, conns int) *http.Client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// burst sends n requests at once, each released by the same signal, and
// returns what each got, in order.
func burst(c *http.Client, n int, method string, url func(i int) string, body func(i int) any) []shot {
	return atOnce(n, func(i int) shot { return send(c, method, url(i), body(i)) })
}

func send(c *http.Client, method, url string, body any) shot {
	began := time.Now()
	status, h, b, err := apitest.Call(c, method, url, "", body)
	s := shot{status: status, body: b, err: err, elapsed: time.Since(began)}
	if err == nil {
		s.retryAfter = h.Get("Retry-After")
		if status >= 400 {
			var p struct {
				Detail string `json:"detail"`
			}
			_ = json.Unmarshal(b, &p)
			s.detail = p.Detail
		}
	}
	return s
}

// statusKey names an answer for counting: its status, and for a 503 which
// of its two meanings.
func (s shot) statusKey() string {
	switch {
	case s.err != nil:
		return "no answer"
	case s.status == http.StatusServiceUnavailable:
		return fmt.Sprintf("503 %q", s.detail)
	default:
		return strconv.Itoa(s.status)
	}
}

// summary counts shots by statusKey and gives the durations of each kind.
type summary struct {
	counts map[string]int
	times  map[string][]time.Duration
	all    []time.Duration
}

func summarise(shots []shot) summary {
	s := summary{counts: map[string]int{}, times: map[string][]time.Duration{}}
	for _, sh := range shots {
		k := sh.statusKey()
		s.counts[k]++
		s.times[k] = append(s.times[k], sh.elapsed)
		s.all = append(s.all, sh.elapsed)
	}
	return s
}

// String is e.g. `201×150 (p50 9.1s p99 19.2s max 19.4s), 503 "the server is busy"×50 (...)`.
func (s summary) String() string {
	keys := make([]string, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d (%s)", k, s.counts[k], quantiles(s.times[k])))
	}
	return strings.Join(parts, ", ")
}

// quantiles is "p50 … p99 … max …" of d, which it sorts.
func quantiles(d []time.Duration) string {
	if len(d) == 0 {
		return "none"
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	r := func(x time.Duration) time.Duration {
		if x < 10*time.Millisecond {
			return x.Round(10 * time.Microsecond)
		}
		return x.Round(time.Millisecond)
	}
	return fmt.Sprintf("p50 %v p99 %v max %v", r(at(0.50)), r(at(0.99)), r(d[len(d)-1]))
}

// scrape reads the unlabelled series of GET /metrics. It reports errors
// instead of failing a test, so any goroutine may call it.
func scrape(c *http.Client, base string) (map[string]float64, error) {
	status, _, b, err := apitest.Call(c, http.MethodGet, base+"/metrics", "", nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics = %d", status)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			series[name] = f
		}
	}
	return series, nil
}

// metric reads one unlabelled series from GET /metrics.
func metric(t *testing.T, c *http.Client, base, name string) float64 {
	t.Helper()
	series, err := scrape(c, base)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := series[name]
	if !ok {
		t.Fatalf("GET /metrics has no series %s", name)
	}
	return v
}

// HASH_QUEUE_TIMEOUT's and DB_QUERY_TIMEOUT's defaults, which TestBursts keeps.
const (
	hashQueueTimeout = 20 * time.Second
	dbQueryTimeout   = 5 * time.Second
)

// poolWatch samples the password-hashing pool while a burst runs.
type poolWatch struct {
	c            *http.Client
	base         string
	began        time.Time
	hashesBefore float64
	stop, done   chan struct{}
	// Of the samples that found requests queued for a worker, how many
	// found every worker busy.
	queued, saturated int
}

func watchPool(t *testing.T, c *http.Client, base string) *poolWatch {
	t.Helper()
	w := &poolWatch{c: c, base: base, hashesBefore: metric(t, c, base, "password_hashes_total"),
		began: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			m, err := scrape(c, base)
			if err != nil || m["password_hash_queued"] == 0 {
				continue
			}
			w.queued++
			if m["password_hash_workers_busy"] >= m["password_hash_workers"] {
				w.saturated++
			}
		}
	}()
	return w
}

// checkBusy ends w and checks the 503 "the server is busy" answers of the
// burst it watched, which asked for n hashes at once, and returns how many
// there were. Each must come only while every worker was hashing: then the
// server did what it could, and the machine was too slow for n within
// HASH_QUEUE_TIMEOUT.
// Alone it hashes about six a second at cost 12, enough for 40 at once and
// not for 200; another job on its two CPUs can cut that to one or two.
func checkBusy(t *testing.T, shots []shot, n int, w *poolWatch) int {
	t.Helper()
	close(w.stop)
	<-w.done
	wall := time.Since(w.began)
	hashed := metric(t, w.c, w.base, "password_hashes_total") - w.hashesBefore
	busy := 0
	for _, sh := range shots {
		if sh.err == nil && sh.status == http.StatusServiceUnavailable && sh.detail == "the server is busy" {
			busy++
		}
	}
	t.Logf("the server made %.0f hashes in %v (%.2f a second) for %d asked at once; every worker was busy in %d of the %d samples that found requests queued",
		hashed, wall.Round(time.Millisecond), hashed/wall.Seconds(), n, w.saturated, w.queued)
	if busy > 0 && (w.queued == 0 || float64(w.saturated) < 0.8*float64(w.queued)) {
		t.Errorf("%d answers were 503 busy, but the workers were not all busy while requests queued (%d of %d samples)",
			busy, w.saturated, w.queued)
	}
	return busy
}

// TestBursts sends bursts of sign-ups and logins, the requests that cost a
// bcrypt hash each, to the real binary with production settings (cost 12,
// one fewer hashing worker than the CPUs, the default HASH_QUEUE_TIMEOUT). However many
// arrive at once, the answers are the ones one-at-a-time requests would
// get, or, for a request that got no worker within HASH_QUEUE_TIMEOUT while
// every worker was hashing, 503 "the server is busy" with Retry-After:
// never a dropped connection, a duplicate account, a login throttle that
// lets more through than its limit, or cheap requests starved of CPU.
func TestBursts(t *testing.T) {
	const maxFailuresPerEmail = 5 // LOGIN_MAX_FAILURES_PER_EMAIL's default
	dbURL := apitest.NewDatabase(t)
	addr := apitest.FreeAddr(t)
	p := apitest.StartServer(t, serverBin, "", map[string]string{
		"APP_ENV":      "production",
		"DATABASE_URL": dbURL,
		"HTTP_ADDR":    addr,
		"JWT_SECRET":   testSecret,
		"BCRYPT_COST":  "12",
		// Request logs at 300 requests a second would only cost CPU.
		"LOG_LEVEL": "warn",
	})
	// "server ready" is logged at info: wait for /readyz instead.
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, _, err := call(http.MethodGet, base+"/readyz", "", nil)
		if err == nil && status == http.StatusOK {
			break
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("server not ready: %d %v (exited: %v)", status, err, p.Exited())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := burstClient(t, 256)
	t.Logf("server at production settings: BCRYPT_COST 12, password_hash_workers %v, HASH_QUEUE_TIMEOUT 20s (defaults)",
		metric(t, c, base, "password_hash_workers"))

	db := openDB(t, dbURL)
	countUsers := func(t *testing.T, like string) int {
		t.Helper()
		var n int
		if err := db.GetContext(context.Background(), &n, `SELECT count(*) FROM users WHERE email LIKE $1`, like); err != nil {
			t.Fatalf("count users: %v", err)
		}
		return n
	}
	signUpBody := func(email string) map[string]string {
		return map[string]string{"email": email, "name": "Burst", "password": "password123"}
	}
	users := func(int) string { return base + "/users" }

	t.Run("40 sign-ups with one email", func(t *testing.T) {
		pool := watchPool(t, c, base)
		began := time.Now()
		shots := burst(c, 40, http.MethodPost, users, func(int) any { return signUpBody("same@example.com") })
		wall := time.Since(began)
		s := summarise(shots)
		t.Logf("POST /users ×40, one email, in %v: %s", wall.Round(time.Millisecond), s)
		// Each checks the email before hashing, and at once they all find it
		// free: all 40 hash, and the unique index decides. Out of 40 answers
		// these sums leave room for nothing else.
		busy := checkBusy(t, shots, 40, pool)
		if s.counts["201"] != 1 || s.counts["409"]+busy != 39 {
			t.Errorf("want exactly 201×1 and 409×39, got %v", s.counts)
		}
		if n := countUsers(t, "same@example.com"); n != 1 {
			t.Errorf("%d users with the email, want 1", n)
		}
	})

	t.Run("40 sign-ups with distinct emails", func(t *testing.T) {
		pool := watchPool(t, c, base)
		began := time.Now()
		shots := burst(c, 40, http.MethodPost, users, func(i int) any { return signUpBody(fmt.Sprintf("forty-%d@example.com", i)) })
		wall := time.Since(began)
		s := summarise(shots)
		t.Logf("POST /users ×40, distinct emails, in %v: %s", wall.Round(time.Millisecond), s)
		if busy := checkBusy(t, shots, 40, pool); s.counts["201"]+busy != 40 {
			t.Errorf("want 201×40, got %v", s.counts)
		}
		if n := countUsers(t, "forty-%"); n != s.counts["201"] {
			t.Errorf("%d users created, but %d answered 201", n, s.counts["201"])
		}
	})

	t.Run("200 sign-ups while items are read", func(t *testing.T) {
		const (
			signUps = 200
			readers = 4
		)
		token := signUp(t, base, "reader@example.com")
		item := createItem(t, base, token, map[string]any{"name": "read me", "price_cents": 1})
		rejectedBefore := metric(t, c, base, "password_hash_rejections_total")

		var (
			mu    sync.Mutex
			reads []shot
			stop  atomic.Bool
			wg    sync.WaitGroup
		)
		for range readers {
			wg.Go(func() {
				for !stop.Load() {
					sh := send(c, http.MethodGet, fmt.Sprintf("%s/items/%d", base, item), nil)
					mu.Lock()
					reads = append(reads, sh)
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		time.Sleep(100 * time.Millisecond) // the readers are under way before the flood
		pool := watchPool(t, c, base)
		began := time.Now()
		shots := burst(c, signUps, http.MethodPost, users, func(i int) any { return signUpBody(fmt.Sprintf("flood-%d@example.com", i)) })
		flood := time.Since(began)
		stop.Store(true)
		wg.Wait()

		s := summarise(shots)
		var retryAfters []int
		for _, sh := range shots {
			switch {
			case sh.err != nil:
				t.Errorf("a sign-up got no answer after %v: %v", sh.elapsed.Round(time.Millisecond), sh.err)
			case sh.status == http.StatusCreated:
			case sh.status == http.StatusServiceUnavailable && sh.detail == "the server is busy":
				n, err := strconv.Atoi(sh.retryAfter)
				if err != nil || n <= 0 {
					t.Errorf("503 busy with Retry-After %q, want a positive number of seconds", sh.retryAfter)
				}
				retryAfters = append(retryAfters, n)
			default:
				t.Errorf("a sign-up got %d %s, want 201 or 503 busy", sh.status, sh.body)
			}
		}
		slices.Sort(retryAfters)
		ra := "none"
		if len(retryAfters) > 0 {
			ra = fmt.Sprintf("%ds..%ds", retryAfters[0], retryAfters[len(retryAfters)-1])
		}
		rejected := metric(t, c, base, "password_hash_rejections_total") - rejectedBefore
		checkBusy(t, shots, signUps, pool)
		t.Logf("POST /users ×%d, distinct emails, in %v: %s; Retry-After %s; password_hash_rejections_total +%v",
			signUps, flood.Round(time.Millisecond), s, ra, rejected)

		rs := summarise(reads)
		for _, sh := range reads {
			if sh.err != nil || sh.status != http.StatusOK {
				t.Errorf("GET /items/{id} during the flood: %d %v %s", sh.status, sh.err, sh.body)
			}
		}
		t.Logf("GET /items/{id} by %d readers during the flood: %d requests, %s", readers, len(reads), quantiles(rs.all))
		if len(reads) < readers {
			t.Errorf("only %d reads were made during the flood", len(reads))
		}

		created := countUsers(t, "flood-%")
		t.Logf("users in the database from the flood: %d; answered 201: %d", created, s.counts["201"])
		if created != s.counts["201"] {
			t.Errorf("%d users in the database, but %d sign-ups were answered 201", created, s.counts["201"])
		}
		busy := s.counts[`503 "the server is busy"`]
		if int(rejected) != busy {
			t.Errorf("password_hash_rejections_total rose by %v, but %d sign-ups were answered 503 busy", rejected, busy)
		}
	})

	t.Run("200 failed logins for one email", func(t *testing.T) {
		const (
			email    = "victim@example.com"
			attempts = 200
		)
		signUp(t, base, email)
		signUp(t, base, "bystander@example.com")
		wrong := map[string]string{"email": email, "password": "wrong password"}
		began := time.Now()
		shots := burst(c, attempts, http.MethodPost, func(int) string { return base + "/auth/login" }, func(int) any { return wrong })
		flood := time.Since(began)
		s := summarise(shots)
		t.Logf("POST /auth/login ×%d, one email, wrong password, one client address, in %v: %s",
			attempts, flood.Round(time.Millisecond), s)

		failed, throttled, busy, unreachable, maxRetry := 0, 0, 0, 0, 0
		var slowest time.Duration
		for _, sh := range shots {
			switch {
			case sh.err != nil:
				t.Errorf("a login got no answer: %v", sh.err)
			case sh.status == http.StatusUnauthorized:
				failed++
			case sh.status == http.StatusTooManyRequests:
				throttled++
				// The oldest failure expires a window after it was claimed, so
				// at most a minute after this request came: it may have waited
				// that long in line for the email's lock.
				n, err := strconv.Atoi(sh.retryAfter)
				if limit := 60 + int(math.Ceil(sh.elapsed.Seconds())); err != nil || n <= 0 || n > limit {
					t.Errorf("429 after %v with Retry-After %q, want 1..%d seconds (LOGIN_FAILURE_WINDOW 1m from the request's arrival)",
						sh.elapsed, sh.retryAfter, limit)
				}
				maxRetry = max(maxRetry, n)
			case sh.status == http.StatusServiceUnavailable && sh.detail == "the server is busy":
				busy++
			case sh.status == http.StatusServiceUnavailable && sh.detail == "the database is not reachable":
				// Attempts on one email wait their turn in the process, holding
				// no connection, and that wait is not time on the database:
				// the database was fine, so this answer would be a lie.
				unreachable++
				slowest = max(slowest, sh.elapsed)
				t.Errorf("a login got 503 %q after %v, with the database up", sh.detail, sh.elapsed)
			default:
				t.Errorf("a login got %d %s, want 401, 429 or 503", sh.status, sh.body)
			}
		}
		if unreachable > 0 {
			t.Logf("%d attempts waited out DB_QUERY_TIMEOUT (%v) in line for the email's lock, the last after %v: 503 %q",
				unreachable, dbQueryTimeout, slowest.Round(time.Millisecond), "the database is not reachable")
		}
		// Attempts on the email are counted one after another, each claimed
		// before its password is checked, and a claim is given back only
		// when no password was checked (a 503). So the 401s never exceed
		// the limit; with no 503 nothing was given back and the first five
		// claims are all there were, so there are exactly five.
		if failed > maxFailuresPerEmail {
			t.Errorf("%d attempts were answered 401, more than LOGIN_MAX_FAILURES_PER_EMAIL %d", failed, maxFailuresPerEmail)
		}
		if busy+unreachable == 0 && failed != maxFailuresPerEmail {
			t.Errorf("%d attempts were answered 401 and none 503, want exactly %d", failed, maxFailuresPerEmail)
		}

		// What the flood recorded: exactly its 401s, however many 503s it
		// had. The attempts left before 429 make up the difference to the
		// limit, and then even the right password is refused.
		extra := 0
		var last shot
		for range maxFailuresPerEmail + 1 {
			last = send(c, http.MethodPost, base+"/auth/login", wrong)
			if last.err != nil || last.status != http.StatusUnauthorized {
				break
			}
			extra++
		}
		if last.err != nil || last.status != http.StatusTooManyRequests {
			t.Errorf("after %d more 401s the next attempt got %d %v %s, want 429", extra, last.status, last.err, last.body)
		}
		if failed+extra != maxFailuresPerEmail {
			t.Errorf("the flood's %d 401s and %d more before 429 make %d failures, want %d", failed, extra, failed+extra, maxFailuresPerEmail)
		}
		right := send(c, http.MethodPost, base+"/auth/login", map[string]string{"email": email, "password": "password123"})
		if right.err != nil || right.status != http.StatusTooManyRequests {
			t.Errorf("the right password after the flood got %d %v, want 429", right.status, right.err)
		}

		// The client address (limit 50) was charged only for the attempts
		// that were checked, not for the 429s: another account from the
		// same address is still served, wrong password and right.
		other := send(c, http.MethodPost, base+"/auth/login", map[string]string{"email": "bystander@example.com", "password": "wrong password"})
		if other.err != nil || other.status != http.StatusUnauthorized {
			t.Errorf("a wrong password for another email from the same address got %d %v %s, want 401", other.status, other.err, other.body)
		}
		other = send(c, http.MethodPost, base+"/auth/login", map[string]string{"email": "bystander@example.com", "password": "password123"})
		if other.err != nil || other.status != http.StatusOK {
			t.Errorf("the right password for another email from the same address got %d %v %s, want 200", other.status, other.err, other.body)
		}
		t.Logf("the flood's 429s had Retry-After up to %ds", maxRetry)
		t.Logf("after the flood: %d more 401s, then 429 (Retry-After %ss), the right password 429; the same address for another email: 401, then 200; "+
			"recorded failures for the email %d = LOGIN_MAX_FAILURES_PER_EMAIL (the flood's 401 %d, 429 %d, 503 busy %d, 503 not reachable %d)",
			extra, last.retryAfter, failed+extra, failed, throttled, busy, unreachable)
	})
}
