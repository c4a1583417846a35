package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The sign-up flood: what a burst of bcrypt at the production cost does to
// everyone else. The template hashes on HASH_WORKERS workers (one fewer
// than the CPUs by default) and queues the rest for up to HASH_QUEUE_TIMEOUT (20s), so the
// reads beside a flood should barely notice it and the hashing should go as
// fast as it does with no contention.
const floodName = "sign-up flood"

// Targets of the flood.
const (
	maxFloodReadP99 = 50 * time.Millisecond // GET /items/{id} during the flood
	minFloodRatio   = 0.8                   // sign-ups/s in the flood over the uncontended rate
)

type floodOptions struct {
	clients  int           // concurrent sign-up clients in the flood
	duration time.Duration // measured flood
	alone    time.Duration // measured reads alone, and uncontended sign-ups
	readRate float64       // paced reads per second
	env      []string      // NAME=value over the defaults, for experiments
}

// floodRamp is how long the flood runs before it is measured, so that every
// client has a request queued.
const floodRamp = 2 * time.Second

// readConcurrency bounds the paced reads in flight. Far more than the rate
// ever needs, so a slow answer delays no later request's start.
const readConcurrency = 64

// runFlood measures, on s (a template server of its own, at BCRYPT_COST=12
// and the default HASH_WORKERS and HASH_QUEUE_TIMEOUT):
//
//  1. paced GET /items/{id} alone;
//  2. sign-ups with exactly HASH_WORKERS clients and nothing else: the rate
//     the hashing workers reach without contention;
//  3. the paced reads again, during o.clients concurrent sign-up clients;
//  4. the uncontended sign-ups again.
func runFlood(s *server, dbURL string, maxItem int64, o floodOptions) ([]verdict, error) {
	workers, err := metricValue(s, "password_hash_workers")
	if err != nil {
		return nil, err
	}
	settings := "HASH_WORKERS and HASH_QUEUE_TIMEOUT unset (defaults: one fewer worker than the CPUs the Go runtime uses, at least one; 20s)"
	if len(o.env) > 0 {
		settings = "NOT THE DEFAULTS: " + strings.Join(o.env, " ")
	}
	fmt.Printf("\n%s: template only, a process of its own: APP_ENV=production, BCRYPT_COST=12, %s; %d hashing workers (password_hash_workers on /metrics)\n",
		floodName, settings, workers)
	fmt.Printf("reads: GET /items/{id} at %.0f/s, paced (latency from each request's scheduled start, so a stall counts for every request it delays)\n\n", o.readRate)

	flood := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        2 * o.clients,
		MaxIdleConnsPerHost: 2 * o.clients,
		IdleConnTimeout:     time.Minute,
	}}
	var emails atomic.Int64

	alone := pacedReads(s, maxItem, o.readRate, o.alone)

	// The uncontended rate, before the flood and after it (a warm-up of
	// one hash per worker, then measure): their mean is what the flood is
	// held to, so that a drift in other work on the machine, which moves
	// how fast the workers hash, moves both sides.
	before := signUps(s, flood, &emails, workers, time.Second, o.alone, nil)
	var during stats
	fl := signUps(s, flood, &emails, o.clients, floodRamp, o.duration, func() {
		during = pacedReads(s, maxItem, o.readRate, o.duration)
	})
	after := signUps(s, flood, &emails, workers, time.Second, o.alone, nil)
	uncontended := (before.rate() + after.rate()) / 2

	cost, err := hashCost(dbURL)
	if err != nil {
		return nil, err
	}

	line := func(name string, st *stats) {
		fmt.Printf("  %-38s p50 %9s  p99 %9s  (%d reads, %d errors)\n", name, ms(st.percentile(0.5)), ms(st.percentile(0.99)), st.requests, st.errors)
	}
	line("GET /items/{id} alone:", &alone)
	line("GET /items/{id} during the flood:", &during)
	ratio := fl.rate() / uncontended
	for _, u := range []struct {
		when string
		st   *signUpStats
	}{{"before", &before}, {"after", &after}} {
		fmt.Printf("  %-38s %6.2f/s  (%d in %s; each took %s at the median)\n", fmt.Sprintf("sign-ups, %d clients alone, %s:", workers, u.when),
			u.st.rate(), u.st.created, u.st.window.Round(time.Millisecond), ms(u.st.percentile(0.5)))
	}
	fmt.Printf("  %-38s %6.2f/s  (%d in %s; %.2fx the uncontended mean, %.2f/s)\n", fmt.Sprintf("sign-ups during the %d-client flood:", o.clients),
		fl.rate(), fl.created, fl.window.Round(time.Millisecond), ratio, uncontended)
	fmt.Printf("  %-38s 201 x %d, 503 busy x %d, other x %d; %d in flight at the end, cancelled\n", "flood statuses (all of its requests):",
		fl.status[http.StatusCreated], fl.status[http.StatusServiceUnavailable], fl.others(), fl.cancelled)
	if fl.firstOther != "" {
		fmt.Printf("  %-38s %s\n", "first other:", fl.firstOther)
	}
	fmt.Printf("  %-38s $2a$%d$ (from the users table)\n", "bcrypt cost of the hashes stored:", cost)

	var verdicts []verdict
	p99 := during.percentile(0.99)
	check(&verdicts, p99 < maxFloodReadP99 && during.errors == 0, "[template] %s: GET /items/{id} p99 %s < %s during the flood (alone: %s; %d errors)",
		floodName, ms(p99), ms(maxFloodReadP99), ms(alone.percentile(0.99)), during.errors)
	check(&verdicts, ratio >= minFloodRatio, "[template] %s: sign-ups %.2f/s during the flood >= %.2f x %.2f/s with %d clients alone (%.2fx)",
		floodName, fl.rate(), minFloodRatio, uncontended, workers, ratio)
	check(&verdicts, fl.others()+before.others()+after.others() == 0, "[template] %s: only 201 and 503 answered (other: %d in the flood, %d alone)",
		floodName, fl.others(), before.others()+after.others())
	check(&verdicts, cost == 12, "[template] %s: hashes stored at bcrypt cost %d == 12", floodName, cost)
	return verdicts, nil
}

// pacedReads sends GET /items/{id} at rate per second for d, each at its
// scheduled time, and times each from that time: an open loop, so a server
// that stalls is charged for every request the stall delays.
func pacedReads(s *server, maxItem int64, rate float64, d time.Duration) stats {
	c := benchCase{method: http.MethodGet, want: http.StatusOK,
		path: func(r *rand.Rand) string { return "/items/" + strconv.FormatInt(1+r.Int64N(maxItem), 10) }}
	n := int64(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	var (
		next  atomic.Int64
		mu    sync.Mutex
		wg    sync.WaitGroup
		st    stats
		began = time.Now()
	)
	for w := range readConcurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano()))) //nolint:gosec // picks ids, not secrets
			var lat []time.Duration
			var errs int
			var firstErr string
			for {
				i := next.Add(1) - 1
				if i >= n {
					break
				}
				due := began.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(due))
				status, err := c.do(s, w, rng)
				lat = append(lat, time.Since(due))
				if err != nil || status != c.want {
					errs++
					if firstErr == "" {
						firstErr = fmt.Sprintf("status %d, error %v", status, err)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			st.add(&stats{requests: len(lat), errors: errs, latencies: lat, firstErr: firstErr})
		})
	}
	wg.Wait()
	st.elapsed = time.Since(began)
	return st
}

type signUpStats struct {
	window     time.Duration
	created    int             // 201s answered within the window
	latencies  []time.Duration // of those
	status     map[int]int     // every answer, window or not
	cancelled  int             // in flight when the run ended
	firstOther string
}

func (s *signUpStats) rate() float64 { return float64(s.created) / s.window.Seconds() }

func (s *signUpStats) others() int {
	n := 0
	for code, k := range s.status {
		if code != http.StatusCreated && code != http.StatusServiceUnavailable {
			n += k
		}
	}
	return n
}

func (s *signUpStats) percentile(p float64) time.Duration {
	st := stats{latencies: s.latencies}
	return st.percentile(p)
}

// signUps runs clients closed-loop sign-up clients, each with a new email
// every time, for ramp and then d measured, during which during runs (when
// not nil; d is then as long as it takes). Requests still in flight at the
// end are cancelled.
func signUps(s *server, client *http.Client, emails *atomic.Int64, clients int, ramp, d time.Duration, during func()) signUpStats {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu         sync.Mutex
		wg         sync.WaitGroup
		st         = signUpStats{status: map[int]int{}}
		start, end atomic.Int64 // the window, in UnixNano; end 0 while open
	)
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				status, err := signUp(ctx, s, client, emails.Add(1))
				t1 := time.Now()
				mu.Lock()
				switch {
				case err != nil && ctx.Err() != nil:
					st.cancelled++
				case err != nil:
					st.status[0]++
					if st.firstOther == "" {
						st.firstOther = err.Error()
					}
				default:
					st.status[status]++
					if status != http.StatusCreated && status != http.StatusServiceUnavailable && st.firstOther == "" {
						st.firstOther = "status " + strconv.Itoa(status)
					}
					in := start.Load() != 0 && t1.UnixNano() >= start.Load() && (end.Load() == 0 || t1.UnixNano() <= end.Load())
					if status == http.StatusCreated && in {
						st.created++
						st.latencies = append(st.latencies, t1.Sub(t0))
					}
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(ramp)
	began := time.Now()
	start.Store(began.UnixNano())
	if during != nil {
		during()
	} else {
		time.Sleep(d)
	}
	stopped := time.Now()
	end.Store(stopped.UnixNano())
	st.window = stopped.Sub(began)
	cancel()
	wg.Wait()
	return st
}

func signUp(ctx context.Context, s *server, client *http.Client, n int64) (int, error) {
	body := fmt.Sprintf(`{"email":"flood-%d@example.com","name":"Flood %d","password":"correct horse battery"}`, n, n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.addr+"/users", strings.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
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

// metricValue reads one unlabelled sample from the server's /metrics.
func metricValue(s *server, name string) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+s.addr+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("new request: %w", err)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET /metrics: %w", err)
	}
	defer func() { _ = res.Body.Close() }()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
			}
			return int(f), nil
		}
	}
	return 0, fmt.Errorf("no %s on /metrics: %w", name, errors.Join(sc.Err(), errors.New("not found")))
}

// hashCost is the bcrypt cost of a hash the flood stored: $2a$12$...
func hashCost(dbURL string) (int, error) {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return 0, fmt.Errorf("bench database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer func() { _ = db.Close() }()
	var hash sql.NullString
	if err := db.QueryRowContext(context.Background(), `SELECT password_hash FROM users WHERE email LIKE 'flood-%' LIMIT 1`).Scan(&hash); err != nil {
		return 0, fmt.Errorf("a flood user's hash: %w", err)
	}
	f := strings.Split(hash.String, "$")
	if len(f) < 3 {
		return 0, fmt.Errorf("not a bcrypt hash: %q", hash.String)
	}
	cost, err := strconv.Atoi(f[2])
	if err != nil {
		return 0, fmt.Errorf("bcrypt cost in %q: %w", hash.String, err)
	}
	return cost, nil
}
