package controllers_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/internal/apitest"
)

// require503 checks a 503 problem with the detail the contract gives its
// cause, and a Retry-After of whole seconds.
func require503(t *testing.T, res *apitest.Response, path, detail string) {
	t.Helper()
	p := requireProblem(t, res, http.StatusServiceUnavailable, path)
	if p.Detail != detail {
		t.Errorf("503 detail = %q, want %q", p.Detail, detail)
	}
	if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("503 Retry-After = %q, want a positive number of seconds", res.Header.Get("Retry-After"))
	}
}

// With no database to talk to, every route that needs it answers 503 "the
// database is not reachable" with Retry-After, at once.
func TestUnreachableDatabaseIs503(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, func(c *app.Config) {
		c.DatabaseURL = "postgres://postgres@127.0.0.1:1/none?sslmode=disable"
	})
	token := uaToken(t, api, jwt.SigningMethodHS256, []byte(api.Config.JWTSecret), nil)
	const detail = "the database is not reachable"
	for _, r := range []apitest.Request{
		{Method: http.MethodGet, Path: "/readyz"},
		{Method: http.MethodGet, Path: "/items"},
		{Method: http.MethodGet, Path: "/items/1"},
		{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("ada@example.com", "Ada", "correct horse")},
		{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("ada@example.com", "Ada", "correct horse"), Header: map[string]string{"Idempotency-Key": "k"}},
		{Method: http.MethodPost, Path: "/auth/login", Body: map[string]string{"email": "ada@example.com", "password": "correct horse"}},
		{Method: http.MethodPost, Path: "/auth/refresh", Body: map[string]string{"refresh_token": "whatever"}},
		{Method: http.MethodGet, Path: "/users/me", Token: token},
		{Method: http.MethodGet, Path: "/users", Token: token},
		{Method: http.MethodPatch, Path: "/items/1", Token: token, Body: `{"name":"x"}`},
		{Method: http.MethodPost, Path: "/items", Token: token, Body: newItemBody()},
	} {
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			start := time.Now()
			require503(t, api.Do(r), r.Path, detail)
			if d := time.Since(start); d > api.Config.DBQueryTimeout+time.Second {
				t.Errorf("the 503 took %v", d)
			}
		})
	}
	// What needs no database still answers.
	for _, path := range []string{"/", "/healthz"} {
		if res := api.Do(apitest.Request{Method: http.MethodGet, Path: path}); res.Status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, res.Status)
		}
	}
}

// slowHash is a bcrypt hash of "slow password" whose check takes about
// a third of a second on this machine, in this build (the race detector
// slows bcrypt tenfold): a login against it holds a hashing worker that
// long, whatever BCRYPT_COST the app hashes new passwords at.
var slowHash = sync.OnceValues(func() (string, error) {
	const target = 300 * time.Millisecond
	start := time.Now()
	if _, err := bcrypt.GenerateFromPassword([]byte("calibrate"), 6); err != nil {
		return "", err
	}
	cost := 6
	for d := time.Since(start); d < target && cost < 14; d *= 2 {
		cost++
	}
	h, err := bcrypt.GenerateFromPassword([]byte("slow password"), cost)
	return string(h), err
})

// busyWorker makes a login that holds the only hashing worker, and returns
// once it does, with a channel that gets the login's status when it ends.
func busyWorker(t *testing.T, api *apitest.API, email string) <-chan int {
	t.Helper()
	hash, err := slowHash()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.DB.Exec(`UPDATE users SET password_hash = $1 WHERE email = $2`, hash, email); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		done <- uaLogin(api, email, "slow password").Status
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/metrics"})
		if bytes.Contains(res.Body, []byte("\npassword_hash_workers_busy 1\n")) {
			return done
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow login never held the hashing worker")
		}
		time.Sleep(time.Millisecond)
	}
}

// When no hashing worker comes free in time, sign-up, login and password
// change answer 503 "the server is busy" with Retry-After; the rest of the
// API, and the database, are not held up.
func TestBusyHashingIs503(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, func(c *app.Config) {
		c.HashWorkers = 1
		c.HashQueueTimeout = 20 * time.Millisecond
	})
	slow := api.SignUp("slow@example.com", "Slow", "correct horse")
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	it := createItem(t, api, ada.Token, newItemBody())
	// One failure short of the throttle: a busy answer must not count as
	// another.
	for range api.Config.LoginMaxFailuresPerEmail - 1 {
		if res := uaLogin(api, "ada@example.com", "wrong horse"); res.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password = %d", res.Status)
		}
	}

	done := busyWorker(t, api, slow.Email)
	responses := []*apitest.Response{
		api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("bob@example.com", "Bob", "correct horse")}),
		uaLogin(api, "ada@example.com", "correct horse"),
		api.Do(apitest.Request{Method: http.MethodPut, Path: "/users/me/password", Token: ada.Token,
			Body: map[string]string{"current_password": "correct horse", "new_password": "battery staple"}}),
	}
	// Meanwhile, what needs no hashing answers.
	read := api.Do(apitest.Request{Method: http.MethodGet, Path: itemPath(it.ID)})
	stillBusy := len(done) == 0
	if status := <-done; status != http.StatusOK {
		t.Fatalf("the slow login = %d, want 200", status)
	}
	if read.Status != http.StatusOK {
		t.Errorf("GET an item while the worker was busy = %d", read.Status)
	}
	if !stillBusy {
		t.Skip("machine too slow: the slow login ended before the requests it was to hold up")
	}
	for i, path := range []string{"/users", "/auth/login", "/users/me/password"} {
		require503(t, responses[i], path, "the server is busy")
	}

	// None of it counted: no account, no failed login, no new password.
	var users int
	if err := api.DB.Get(&users, `SELECT count(*) FROM users WHERE email = 'bob@example.com'`); err != nil || users != 0 {
		t.Errorf("bob's rows = %d (%v), want 0", users, err)
	}
	if got := sessMe(api, ada.Token); got != http.StatusOK {
		t.Errorf("ada's token after a busy password change = %d, want 200", got)
	}
	if res := uaLogin(api, "ada@example.com", "correct horse"); res.Status != http.StatusOK {
		t.Errorf("login after the busy answers = %d %s, want 200: they counted as failures", res.Status, res.Body)
	}
}

// DB_QUERY_TIMEOUT bounds the time a request spends on the database, not
// the time it waits for a hashing worker: a sign-up that waits longer than
// the budget for one is still served.
func TestWaitingForAHashingWorkerIsNotDatabaseTime(t *testing.T) {
	t.Parallel()
	const budget = 100 * time.Millisecond
	api := apitest.New(t, func(c *app.Config) {
		c.HashWorkers = 1
		c.HashQueueTimeout = time.Minute
		c.DBQueryTimeout = budget
	})
	slow := api.SignUp("slow@example.com", "Slow", "correct horse")
	done := busyWorker(t, api, slow.Email)
	start := time.Now()
	res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("bob@example.com", "Bob", "correct horse")})
	waited := time.Since(start)
	if res.Status != http.StatusCreated {
		t.Fatalf("a sign-up that waited %v for a worker = %d %s, want 201", waited, res.Status, res.Body)
	}
	if status := <-done; status != http.StatusOK {
		t.Errorf("the slow login = %d", status)
	}
	if waited < budget {
		t.Logf("the sign-up took only %v, less than DB_QUERY_TIMEOUT %v: this run proves little", waited, budget)
	}
	if strings.Contains(string(res.Body), "busy") {
		t.Errorf("answer: %s", res.Body)
	}
}
