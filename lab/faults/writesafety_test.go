package faults_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/apitest"
)

// answerDropper forwards each client connection to the server and, as
// soon as the server starts to answer, closes both ends without passing a
// byte of the answer on: what a client sees when its connection dies after
// the server has done the work and before the answer arrives.
type answerDropper struct {
	ln      net.Listener
	target  string
	wg      sync.WaitGroup
	dropped sync.WaitGroup // one per connection, done when its answer is dropped
}

func startAnswerDropper(t *testing.T, target string) *answerDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &answerDropper{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *answerDropper) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.dropped.Add(1)
		p.wg.Go(func() {
			_, _ = io.Copy(server, client)
			_ = server.Close()
		})
		p.wg.Go(func() {
			defer p.dropped.Done()
			first := make([]byte, 1)
			_, _ = server.Read(first) // the answer has begun: the work is committed
			_ = client.Close()
			_ = server.Close()
		})
	}
}

func (p *answerDropper) addr() string { return p.ln.Addr().String() }

// callWith is apitest.CallWith with this package's client.
func callWith(method, url, token string, h http.Header, body any) (int, http.Header, []byte, error) {
	return apitest.CallWith(client, method, url, token, h, body)
}

type itemAnswer struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// TestWriteSafety drives the real binary through the faults the write
// headers exist for: a create whose answer is lost and which the client
// retries with its Idempotency-Key, many creates with one key at once, and
// many conditional updates holding one ETag at once. Each ends as
// one-at-a-time requests would: one row, and one winner.
func TestWriteSafety(t *testing.T) {
	dbURL := apitest.NewDatabase(t)
	_, addr := startServer(t, dbURL, nil)
	base := "http://" + addr
	token := signUp(t, base, "writes@example.com")
	db := openDB(t, dbURL)
	itemsNamed := func(t *testing.T, name string) int {
		t.Helper()
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM items WHERE name = $1`, name); err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("a create whose answer is lost is retried and replayed", func(t *testing.T) {
		dropper := startAnswerDropper(t, addr)
		key := http.Header{"Idempotency-Key": {"lost-answer-1"}}
		body := map[string]any{"name": "lost answer", "price_cents": 1250}
		_, _, _, lost := callWith(http.MethodPost, "http://"+dropper.addr()+"/items", token, key, body)
		if lost == nil {
			t.Fatal("the first POST got an answer through the proxy that drops answers")
		}
		dropper.dropped.Wait()
		if n := itemsNamed(t, "lost answer"); n != 1 {
			t.Fatalf("after the lost answer %d items exist, want the 1 the server committed", n)
		}
		status, h, b, err := callWith(http.MethodPost, base+"/items", token, key, body)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusCreated || h.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry = %d (Idempotent-Replayed %q) %s, want the first answer: 201, replayed", status, h.Get("Idempotent-Replayed"), b)
		}
		var it itemAnswer
		if err := json.Unmarshal(b, &it); err != nil {
			t.Fatal(err)
		}
		if n := itemsNamed(t, "lost answer"); n != 1 {
			t.Errorf("after the retry %d items exist, want 1", n)
		}
		t.Logf("first POST: %v; the retry with the same key: 201 replayed, item %d, Location %s; 1 row", lost, it.ID, h.Get("Location"))
	})

	t.Run("20 creates with one key make one item", func(t *testing.T) {
		key := http.Header{"Idempotency-Key": {"twenty-at-once"}}
		body := map[string]any{"name": "twenty at once", "price_cents": 20}
		ids := make([]int64, 20)
		rs := race(20, func(i int) (int, []byte, error) {
			s, _, b, err := callWith(http.MethodPost, base+"/items", token, key, body)
			if s == http.StatusCreated {
				var it itemAnswer
				if err := json.Unmarshal(b, &it); err != nil {
					return s, b, err
				}
				ids[i] = it.ID
			}
			return s, b, err
		})
		counts := tally(t, "POST /items ×20, one Idempotency-Key", rs)
		if counts[http.StatusCreated] < 1 || counts[http.StatusCreated]+counts[http.StatusConflict] != 20 {
			t.Errorf("want 201s (the first and its replays) and 409s (repeats while it ran), nothing else; got %v", counts)
		}
		var id int64
		for _, got := range ids {
			if got != 0 && id != 0 && got != id {
				t.Errorf("the 201s name items %d and %d: a key made two", id, got)
			}
			if got != 0 {
				id = got
			}
		}
		if n := itemsNamed(t, "twenty at once"); n != 1 {
			t.Errorf("%d items exist, want 1", n)
		}
	})

	t.Run("50 updates holding one ETag: one wins", func(t *testing.T) {
		id := createItem(t, base, token, map[string]any{"name": "contested", "price_cents": 0})
		url := base + "/items/" + strconv.FormatInt(id, 10)
		_, h, _, err := call(http.MethodGet, url, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		etag := h.Get("ETag")
		if etag == "" {
			t.Fatal("GET /items/{id} sent no ETag")
		}
		winner := -1
		var mu sync.Mutex
		rs := race(50, func(i int) (int, []byte, error) {
			s, _, b, err := callWith(http.MethodPut, url, token, http.Header{"If-Match": {etag}},
				map[string]any{"name": fmt.Sprintf("writer %d", i), "price_cents": i})
			if s == http.StatusOK {
				mu.Lock()
				winner = i
				mu.Unlock()
			}
			return s, b, err
		})
		counts := tally(t, "PUT /items/{id} ×50, one If-Match", rs)
		if counts[http.StatusOK] != 1 || counts[http.StatusPreconditionFailed] != 49 {
			t.Fatalf("want 1×200 and 49×412, got %v", counts)
		}
		var got struct {
			Name    string `db:"name"`
			Version int64  `db:"version"`
		}
		if err := db.Get(&got, `SELECT name, version FROM items WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("writer %d", winner); got.Name != want || got.Version != 2 {
			t.Errorf("the item is %q at version %d, want the winner's %q at version 2", got.Name, got.Version, want)
		}
		t.Logf("ETag %s: writer %d won, the item is at version %d", etag, winner, got.Version)
	})
}
