// Package faults_test puts the application under conditions a normal test
// run avoids: requests racing for one row, a database that goes away, a
// SIGTERM under load, clients that are slow, greedy or never read, login
// timing, bursts of sign-ups and logins at production cost, and a
// browser's view of the response headers. Most of it needs
// the real binary on a real socket, because read deadlines, header limits
// and connections that back up only exist there. The lab is a module of its
// own, so the service's `make test` never runs them: `make -C lab
// test-faults` does.
package faults_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver openDB uses
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/internal/apitest"
)

// serverBin is the binary under test, built once by TestMain.
var serverBin string

func TestMain(m *testing.M) {
	apitest.RunWithBinary(m, "github.com/example/apitemplate/cmd/server", func(bin string) { serverBin = bin })
}

const testSecret = "faults-test-secret-0123456789abcdef!!"

// serverEnv is what every server here runs with: a database, a fresh
// port, a secret, and a cheap bcrypt cost; extra adds to it or overrides it.
func serverEnv(dbURL, addr string, extra map[string]string) map[string]string {
	env := map[string]string{
		"DATABASE_URL": dbURL,
		"HTTP_ADDR":    addr,
		"JWT_SECRET":   testSecret,
		"BCRYPT_COST":  "4",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// startServer runs the server on a fresh port against dbURL, with extra
// settings, and waits until it says it is ready. It returns the process and
// its address; the test's end kills it.
func startServer(t *testing.T, dbURL string, extra map[string]string) (*apitest.Process, string) {
	t.Helper()
	addr := apitest.FreeAddr(t)
	p := apitest.StartServer(t, serverBin, "", serverEnv(dbURL, addr, extra))
	p.WaitReady(t, 20*time.Second)
	return p, addr
}

var client = &http.Client{Timeout: 10 * time.Second}

// call is apitest.Call with this package's client.
func call(method, url, token string, body any) (int, http.Header, []byte, error) {
	return apitest.Call(client, method, url, token, body)
}

// mustCall is call from the test's own goroutine, failing on anything but want.
func mustCall(t *testing.T, want int, method, url, token string, body any) []byte {
	t.Helper()
	status, _, b, err := call(method, url, token, body)
	if err != nil {
		t.Fatal(err)
	}
	if status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, url, status, b, want)
	}
	return b
}

// signUp creates a user and returns an access token of theirs.
func signUp(t *testing.T, base, email string) string {
	t.Helper()
	mustCall(t, http.StatusCreated, http.MethodPost, base+"/users", "",
		map[string]string{"email": email, "name": "Faults", "password": "password123"})
	b := mustCall(t, http.StatusOK, http.MethodPost, base+"/auth/login", "",
		map[string]string{"email": email, "password": "password123"})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil {
		t.Fatalf("login response: %v", err)
	}
	return tok.AccessToken
}

// openDB opens dbURL for a test's own checks; the test's end closes it.
func openDB(t *testing.T, dbURL string) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("pgx", dbURL)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// createItem creates an item and returns its id.
func createItem(t *testing.T, base, token string, body map[string]any) int64 {
	t.Helper()
	b := mustCall(t, http.StatusCreated, http.MethodPost, base+"/items", token, body)
	var it struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(b, &it); err != nil {
		t.Fatalf("item response: %v", err)
	}
	return it.ID
}

// atOnce runs do for 0..n-1 at the same moment, each goroutine released by
// one signal so that they really overlap, and returns the results in order.
func atOnce[T any](n int, do func(i int) T) []T {
	out := make([]T, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			out[i] = do(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return out
}
