package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/apitest"
)

// dbProxy forwards TCP connections to PostgreSQL until it is cut. A cut
// closes every forwarded connection and refuses new ones (accepts and closes
// them at once), which is what a server sees when its database goes away,
// without touching the shared PostgreSQL itself.
type dbProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	cut    bool
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *dbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &dbProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

func (p *dbProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			_ = client.Close()
			continue
		}
		server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		p.wg.Go(func() { pipe(server, client) })
		p.wg.Go(func() { pipe(client, server) })
	}
}

func (p *dbProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *dbProxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
	if cut {
		p.closeAll()
	}
}

// viaProxy is dbURL with its host replaced by the proxy's address.
func viaProxy(t *testing.T, dbURL string, p *dbProxy) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("database URL: %v", err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

// outcome is what one request got, by phase of the outage.
type outcome struct {
	phase   string // "before the cut", "during the cut", "after the restore"
	status  int
	elapsed time.Duration
	err     error
	body    []byte
}

// TestDatabaseOutage cuts the database for 5 s under traffic. During the
// cut /readyz must say 503 quickly, /healthz stay 200, and requests fail
// fast with a 503 problem; after it the server must recover by itself within
// 5 s; and every write answered 201 must be in the database, complete.
func TestDatabaseOutage(t *testing.T) {
	const (
		cutFor       = 5 * time.Second
		queryTimeout = 2 * time.Second
	)
	dbURL := apitest.NewDatabase(t)
	proxy := startProxy(t, "127.0.0.1:5432")
	_, addr := startServer(t, viaProxy(t, dbURL, proxy), map[string]string{
		"DB_QUERY_TIMEOUT": queryTimeout.String(),
	})
	base := "http://" + addr
	token := signUp(t, base, "outage@example.com")
	seed := createItem(t, base, token, map[string]any{"name": "seed", "price_cents": 1})

	var (
		phase   atomic.Value
		mu      sync.Mutex
		results []outcome
		// created is every item answered 201: name -> id.
		created = map[string]int64{}
		// failedWrites is every POST that got anything else.
		failedWrites = map[string]bool{}
		seq          atomic.Int64
		stop         = make(chan struct{})
		wg           sync.WaitGroup
	)
	phase.Store("before the cut")
	record := func(o outcome) {
		mu.Lock()
		results = append(results, o)
		mu.Unlock()
	}
	for w := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ph, _ := phase.Load().(string)
				name := fmt.Sprintf("w%d-%d", w, seq.Add(1))
				start := time.Now()
				status, _, body, err := call(http.MethodPost, base+"/items", token,
					map[string]any{"name": name, "price_cents": len(name)})
				record(outcome{phase: ph, status: status, elapsed: time.Since(start), err: err, body: body})
				mu.Lock()
				if err == nil && status == http.StatusCreated {
					var it struct {
						ID int64 `json:"id"`
					}
					_ = json.Unmarshal(body, &it)
					created[name] = it.ID
				} else {
					failedWrites[name] = true
				}
				mu.Unlock()
				start = time.Now()
				status, _, body, err = call(http.MethodGet, fmt.Sprintf("%s/items/%d", base, seed), "", nil)
				record(outcome{phase: ph, status: status, elapsed: time.Since(start), err: err, body: body})
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})

	time.Sleep(time.Second)
	phase.Store("during the cut")
	proxy.setCut(true)
	cutAt := time.Now()

	// /readyz must notice within 2 s; /healthz must not care.
	readyAfter := time.Duration(-1)
	for time.Since(cutAt) < 2*time.Second {
		status, _, _, err := call(http.MethodGet, base+"/readyz", "", nil)
		if err == nil && status == http.StatusServiceUnavailable {
			readyAfter = time.Since(cutAt)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if readyAfter < 0 {
		t.Error("/readyz did not answer 503 within 2s of the cut")
	}
	healthz := func() {
		t.Helper()
		start := time.Now()
		status, _, _, err := call(http.MethodGet, base+"/healthz", "", nil)
		if err != nil || status != http.StatusOK || time.Since(start) > time.Second {
			t.Errorf("/healthz during the cut = %d, %v after %v; want 200 at once", status, err, time.Since(start))
		}
	}
	healthz()
	time.Sleep(cutFor - time.Since(cutAt))
	healthz()

	phase.Store("after the restore")
	proxy.setCut(false)
	restoredAt := time.Now()
	recoveredAfter := time.Duration(-1)
	for time.Since(restoredAt) < 5*time.Second {
		s1, _, _, err1 := call(http.MethodGet, base+"/readyz", "", nil)
		s2, _, _, err2 := call(http.MethodGet, fmt.Sprintf("%s/items/%d", base, seed), "", nil)
		if err1 == nil && err2 == nil && s1 == http.StatusOK && s2 == http.StatusOK {
			recoveredAfter = time.Since(restoredAt)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if recoveredAfter < 0 {
		t.Error("the server had not recovered 5s after the database came back")
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	// What each phase got.
	type tally struct {
		byStatus map[int]int
		errs     int
		slowest  time.Duration
	}
	tallies := map[string]*tally{}
	for _, o := range results {
		tl := tallies[o.phase]
		if tl == nil {
			tl = &tally{byStatus: map[int]int{}}
			tallies[o.phase] = tl
		}
		tl.slowest = max(tl.slowest, o.elapsed)
		if o.err != nil {
			tl.errs++
			t.Errorf("%s: transport error %v", o.phase, o.err)
			continue
		}
		tl.byStatus[o.status]++
		if o.status >= 500 {
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(o.body, &p); err != nil || o.status != http.StatusServiceUnavailable ||
				p.Detail != "the database is not reachable" {
				t.Errorf("%s: answered %d %s, want a 503 problem saying the database is not reachable",
					o.phase, o.status, o.body)
			}
		}
		// DB_QUERY_TIMEOUT bounds only a request's time on the database, and
		// these requests (item writes and reads: no password to hash) spend
		// next to none anywhere else, so it bounds their whole answer too.
		if o.phase == "during the cut" && o.elapsed > queryTimeout+time.Second {
			t.Errorf("a request during the cut took %v, longer than DB_QUERY_TIMEOUT %v + 1s", o.elapsed, queryTimeout)
		}
	}
	for _, ph := range []string{"before the cut", "during the cut", "after the restore"} {
		tl := tallies[ph]
		if tl == nil {
			t.Errorf("no requests were made %s", ph)
			continue
		}
		t.Logf("%-17s: statuses %v, transport errors %d, slowest %v", ph, tl.byStatus, tl.errs, tl.slowest.Round(time.Millisecond))
	}
	if tl := tallies["during the cut"]; tl != nil && tl.byStatus[http.StatusServiceUnavailable] == 0 {
		t.Error("no request got a 503 during the cut: the cut did not bite")
	}
	t.Logf("/readyz 503 %v after the cut; recovered %v after the restore", readyAfter.Round(time.Millisecond), recoveredAfter.Round(time.Millisecond))

	// Every 201 is in the database, as sent; any other row is a write whose
	// answer was lost, and must be complete too.
	db := openDB(t, dbURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rows []struct {
		ID         int64  `db:"id"`
		Name       string `db:"name"`
		PriceCents int64  `db:"price_cents"`
	}
	if err := db.SelectContext(ctx, &rows, `SELECT id, name, price_cents FROM items WHERE name <> 'seed'`); err != nil {
		t.Fatalf("read items: %v", err)
	}
	inDB := map[string]int64{}
	committedButFailed := 0
	for _, r := range rows {
		inDB[r.Name] = r.ID
		if r.PriceCents != int64(len(r.Name)) {
			t.Errorf("item %d %q has price %d, want %d: a half-done write", r.ID, r.Name, r.PriceCents, len(r.Name))
		}
		if _, ok := created[r.Name]; !ok {
			if !failedWrites[r.Name] {
				t.Errorf("item %q is in the database but was never sent", r.Name)
			}
			committedButFailed++
		}
	}
	for name, id := range created {
		if got, ok := inDB[name]; !ok || got != id {
			t.Errorf("item %q was answered 201 with id %d but the database has %d (present: %v)", name, id, got, ok)
		}
	}
	t.Logf("writes: %d answered 201, all in the database; %d answered otherwise, of which %d committed before the answer was lost",
		len(created), len(failedWrites), committedButFailed)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("checking the database timed out")
	}
}
