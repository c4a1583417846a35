package controllers_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/apitest"
)

// The helpers below carry an "idem" prefix (idempotency keys).

func idemPost(api *apitest.API, path, token, key string, body any) *apitest.Response {
	r := apitest.Request{Method: http.MethodPost, Path: path, Token: token, Body: body}
	if key != "" {
		r.Header = map[string]string{"Idempotency-Key": key}
	}
	return api.Do(r)
}

// idemSameAnswer checks that replay is first again: the status, the body
// byte for byte, Location and ETag, marked Idempotent-Replayed.
func idemSameAnswer(t *testing.T, replay, first *apitest.Response) {
	t.Helper()
	if replay.Status != first.Status || !bytes.Equal(replay.Body, first.Body) {
		t.Errorf("replay = %d %s, want the first answer %d %s", replay.Status, replay.Body, first.Status, first.Body)
	}
	for _, h := range []string{"Location", "ETag", "Content-Type"} {
		if replay.Header.Get(h) != first.Header.Get(h) {
			t.Errorf("replay %s = %q, want the first answer's %q", h, replay.Header.Get(h), first.Header.Get(h))
		}
	}
	if got := replay.Header.Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("replay Idempotent-Replayed = %q, want true", got)
	}
}

// idemKeys counts the stored idempotency records.
func idemKeys(t *testing.T, api *apitest.API) int {
	t.Helper()
	var n int
	if err := api.DB.Get(&n, `SELECT count(*) FROM idempotency_keys`); err != nil {
		t.Fatalf("count idempotency keys: %v", err)
	}
	return n
}

// idemHold takes, on a connection of the test's own, the lock a request
// holds while it processes key in scope, as if such a request were in
// flight; the returned function lets it go.
func idemHold(t *testing.T, api *apitest.API, scope, key string) func() {
	t.Helper()
	ctx := context.Background()
	conn, err := api.DB.Conn(ctx)
	if err != nil {
		t.Fatalf("connection: %v", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtextextended($1 || ' ' || $2, 0))`, scope, key); err != nil {
		t.Fatalf("hold the key: %v", err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtextextended($1 || ' ' || $2, 0))`, scope, key); err != nil {
				t.Errorf("release the key: %v", err)
			}
			_ = conn.Close()
		})
	}
	t.Cleanup(release)
	return release
}

func TestIdempotencyKeyOnCreateItem(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	bob := api.SignUp("bob@example.com", "Bob", "correct horse")
	body := map[string]any{"name": "Teapot", "description": "Short and stout", "price_cents": 1999}

	first := idemPost(api, "/items", ada.Token, "key-1", body)
	if first.Status != http.StatusCreated {
		t.Fatalf("POST /items with a key = %d %s", first.Status, first.Body)
	}
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("the first answer says Idempotent-Replayed: %q", first.Header.Get("Idempotent-Replayed"))
	}
	it := requireItemShape(t, first.Body)
	if first.Header.Get("Location") != itemPath(it.ID) {
		t.Errorf("Location = %q", first.Header.Get("Location"))
	}
	condETag(t, first)
	if n := idemKeys(t, api); n != 1 {
		t.Errorf("%d keys stored, want 1: the key commits with the item", n)
	}

	t.Run("a retry gets the first answer and creates nothing", func(t *testing.T) {
		for _, retry := range []any{
			body,
			// The same request, written otherwise.
			`{"price_cents":1999,  "description":"Short and stout","name":"Teapot"}`,
		} {
			idemSameAnswer(t, idemPost(api, "/items", ada.Token, "key-1", retry), first)
		}
		if n := countItems(t, api); n != 1 {
			t.Errorf("%d items after retries, want 1", n)
		}
	})
	t.Run("the first answer, even after the item changed", func(t *testing.T) {
		res := api.Do(apitest.Request{Method: http.MethodPatch, Path: itemPath(it.ID), Body: `{"name":"Kettle"}`, Token: ada.Token})
		if res.Status != http.StatusOK {
			t.Fatalf("PATCH = %d %s", res.Status, res.Body)
		}
		idemSameAnswer(t, idemPost(api, "/items", ada.Token, "key-1", body), first)
		if n := countItems(t, api); n != 1 {
			t.Errorf("%d items, want 1", n)
		}
	})
	t.Run("the same key for another request", func(t *testing.T) {
		for _, other := range []any{
			map[string]any{"name": "Teapot", "description": "Short and stout", "price_cents": 2000},
			map[string]any{"name": "Teapot", "price_cents": 1999},
		} {
			res := idemPost(api, "/items", ada.Token, "key-1", other)
			requireProblem(t, res, http.StatusUnprocessableEntity, "/items")
		}
		if n := countItems(t, api); n != 1 {
			t.Errorf("%d items, want 1", n)
		}
	})
	t.Run("keys are the caller's", func(t *testing.T) {
		res := idemPost(api, "/items", bob.Token, "key-1", body)
		if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("bob's request with ada's key = %d %s (replayed %q), want a 201 of his own", res.Status, res.Body, res.Header.Get("Idempotent-Replayed"))
		}
		if got := requireItemShape(t, res.Body); got.ID == it.ID || got.OwnerID != bob.ID {
			t.Errorf("bob got %+v", got)
		}
		idemSameAnswer(t, idemPost(api, "/items", bob.Token, "key-1", body), res)
		idemSameAnswer(t, idemPost(api, "/items", ada.Token, "key-1", body), first)
	})
	t.Run("another key, or none, is another request", func(t *testing.T) {
		before := countItems(t, api)
		for _, key := range []string{"key-2", "", ""} {
			if res := idemPost(api, "/items", ada.Token, key, body); res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("key %q: %d %s", key, res.Status, res.Body)
			}
		}
		if n := countItems(t, api); n != before+3 {
			t.Errorf("%d items, want %d", n, before+3)
		}
	})
	t.Run("a request that failed stores no key", func(t *testing.T) {
		keys := idemKeys(t, api)
		for _, res := range []*apitest.Response{
			idemPost(api, "/items", ada.Token, "key-3", map[string]any{"name": "", "price_cents": -1}),
			idemPost(api, "/items", ada.Token, "key-3", `{`),
			idemPost(api, "/items", "", "key-3", body),
			idemPost(api, "/items", "garbage", "key-3", body),
		} {
			if res.Status < 400 {
				t.Fatalf("a bad request answered %d", res.Status)
			}
			condNoETag(t, res)
		}
		if n := idemKeys(t, api); n != keys {
			t.Errorf("keys %d -> %d after failed requests", keys, n)
		}
		res := idemPost(api, "/items", ada.Token, "key-3", body)
		if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("the key of failed requests, then a valid one = %d %s, want a fresh 201", res.Status, res.Body)
		}
		idemSameAnswer(t, idemPost(api, "/items", ada.Token, "key-3", body), res)
	})
	t.Run("a key is kept 24 hours", func(t *testing.T) {
		first := idemPost(api, "/items", ada.Token, "key-5", body)
		if first.Status != http.StatusCreated {
			t.Fatalf("POST = %d %s", first.Status, first.Body)
		}
		if _, err := api.DB.Exec(`UPDATE idempotency_keys SET created_at = now() - interval '23 hours' WHERE key = 'key-5'`); err != nil {
			t.Fatal(err)
		}
		idemSameAnswer(t, idemPost(api, "/items", ada.Token, "key-5", body), first)
		if _, err := api.DB.Exec(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'key-5'`); err != nil {
			t.Fatal(err)
		}
		before := countItems(t, api)
		res := idemPost(api, "/items", ada.Token, "key-5", body)
		if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" || bytes.Equal(res.Body, first.Body) {
			t.Fatalf("the key a day later = %d %s (replayed %q), want a new item", res.Status, res.Body, res.Header.Get("Idempotent-Replayed"))
		}
		if n := countItems(t, api); n != before+1 {
			t.Errorf("%d items, want %d", n, before+1)
		}
		// And the new answer is the one kept from then on.
		idemSameAnswer(t, idemPost(api, "/items", ada.Token, "key-5", body), res)
	})
	t.Run("a repeat while the first is in flight", func(t *testing.T) {
		release := idemHold(t, api, "POST /items user "+strconv.FormatInt(ada.ID, 10), "key-4")
		before := countItems(t, api)
		res := idemPost(api, "/items", ada.Token, "key-4", body)
		p := requireProblem(t, res, http.StatusConflict, "/items")
		if !strings.Contains(p.Detail, "Idempotency-Key") {
			t.Errorf("409 detail = %q, want it to say the key is in use", p.Detail)
		}
		// Another caller's key of the same name is free.
		if res := idemPost(api, "/items", bob.Token, "key-4", body); res.Status != http.StatusCreated {
			t.Errorf("bob's key-4 while ada's is held = %d %s", res.Status, res.Body)
		}
		if n := countItems(t, api); n != before+1 {
			t.Errorf("%d items, want %d", n, before+1)
		}
		release()
		res = idemPost(api, "/items", ada.Token, "key-4", body)
		if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("after the first went away = %d %s, want a fresh 201", res.Status, res.Body)
		}
	})
}

func TestIdempotencyKeyOnSignUp(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	body := uaSignUpBody("ada@example.com", "Ada", "correct horse")
	countUsers := func() int {
		var n int
		if err := api.DB.Get(&n, `SELECT count(*) FROM users`); err != nil {
			t.Fatal(err)
		}
		return n
	}

	first := idemPost(api, "/users", "", "signup-1", body)
	if first.Status != http.StatusCreated {
		t.Fatalf("POST /users with a key = %d %s", first.Status, first.Body)
	}
	u := uaDecodeUser(t, first.Body)
	condETag(t, first)

	// A retry of a sign-up that worked is not "email taken": it is the
	// first answer, whoever sends it (for sign-up the key alone is the
	// caller), and nothing more is stored.
	idemSameAnswer(t, idemPost(api, "/users", "", "signup-1", body), first)
	idemSameAnswer(t, idemPost(api, "/users", "", "signup-1", `{"password":"correct horse","name":"Ada","email":"ada@example.com"}`), first)
	idemSameAnswer(t, idemPost(api, "/users", api.Login("ada@example.com", "correct horse"), "signup-1", body), first)
	if n := countUsers(); n != 1 {
		t.Errorf("%d users after retries, want 1", n)
	}
	// Without the key, or with another, the email is taken.
	requireProblem(t, idemPost(api, "/users", "", "", body), http.StatusConflict, "/users")
	requireProblem(t, idemPost(api, "/users", "", "signup-2", body), http.StatusConflict, "/users")
	// The key with another request, even one that would be refused, is 422.
	for _, other := range []any{
		uaSignUpBody("bob@example.com", "Bob", "correct horse"),
		uaSignUpBody("ada@example.com", "Ada", "another password"),
	} {
		requireProblem(t, idemPost(api, "/users", "", "signup-1", other), http.StatusUnprocessableEntity, "/users")
	}
	if n := countUsers(); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
	// The account works, and only with its password.
	if res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: api.Login("ada@example.com", "correct horse")}); uaDecodeUser(t, res.Body).ID != u.ID {
		t.Errorf("GET /users/me = %s", res.Body)
	}

	// Failed requests store no key.
	keys := idemKeys(t, api)
	uaCheckValidation(t, idemPost(api, "/users", "", "signup-3", uaSignUpBody("nope", "Bob", "correct horse")), "/users", "email")
	uaCheckMalformed(t, idemPost(api, "/users", "", "signup-3", `{`), "/users")
	requireProblem(t, idemPost(api, "/users", "", "signup-3", uaSignUpBody("ADA@example.com", "Ada", "x-correct horse")), http.StatusConflict, "/users")
	if n := idemKeys(t, api); n != keys {
		t.Errorf("keys %d -> %d after failed sign-ups", keys, n)
	}
	bob := idemPost(api, "/users", "", "signup-3", uaSignUpBody("bob@example.com", "Bob", "correct horse"))
	if bob.Status != http.StatusCreated || bob.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("a valid sign-up with the key of failed ones = %d %s", bob.Status, bob.Body)
	}

	// In flight.
	release := idemHold(t, api, "POST /users", "signup-4")
	carl := uaSignUpBody("carl@example.com", "Carl", "correct horse")
	requireProblem(t, idemPost(api, "/users", "", "signup-4", carl), http.StatusConflict, "/users")
	if n := countUsers(); n != 2 {
		t.Errorf("%d users, want 2", n)
	}
	release()
	res := idemPost(api, "/users", "", "signup-4", carl)
	if res.Status != http.StatusCreated {
		t.Fatalf("after the first went away = %d %s", res.Status, res.Body)
	}
	idemSameAnswer(t, idemPost(api, "/users", "", "signup-4", carl), res)
}

func TestIdempotencyKeyValidation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	visible := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteByte(byte(0x21 + i%94))
		}
		return b.String()
	}
	routes := []struct {
		path, token string
		body        func(i int) string
	}{
		{"/items", ada.Token, func(int) string { return `{"name":"Teapot","price_cents":1}` }},
		{"/users", "", func(i int) string {
			return `{"email":"key` + strconv.Itoa(i) + `@example.com","name":"Key","password":"correct horse"}`
		}},
	}
	bad := []struct {
		name string
		keys []string // more than one: the header sent that many times
	}{
		{"empty", []string{""}},
		{"256 characters", []string{visible(256)}},
		{"a space", []string{"two words"}},
		{"a tab", []string{"a\tb"}},
		{"non-ASCII", []string{"clé"}},
		{"DEL", []string{"a\x7f"}},
		{"sent twice", []string{"a", "b"}},
		{"sent twice, the same", []string{"a", "a"}},
	}
	n := 0
	for _, rt := range routes {
		for _, tt := range bad {
			t.Run(rt.path+" "+tt.name, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodPost, rt.path, strings.NewReader(rt.body(n)))
				n++
				r.Header.Set("Content-Type", "application/json")
				if rt.token != "" {
					r.Header.Set("Authorization", "Bearer "+rt.token)
				}
				for _, k := range tt.keys {
					r.Header.Add("Idempotency-Key", k)
				}
				requireFieldErrors(t, serve(api, r), rt.path, "Idempotency-Key")
			})
		}
		for _, key := range []string{"x", visible(255), "!~", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"} {
			t.Run(rt.path+" key of "+strconv.Itoa(len(key)), func(t *testing.T) {
				res := idemPost(api, rt.path, rt.token, key, rt.body(n))
				n++
				if res.Status != http.StatusCreated {
					t.Errorf("key %q = %d %s, want 201", key, res.Status, res.Body)
				}
			})
		}
	}
	if got := countItems(t, api); got != 4 {
		t.Errorf("%d items, want the 4 with good keys", got)
	}
}

// Concurrent repeats of one request with one key create one resource:
// each is answered with it (first or replayed) or told that the first is
// still in flight.
func TestIdempotencyKeyConcurrentRepeats(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	const n = 6
	for _, rt := range []struct {
		name, path, token, body string
		count                   string
	}{
		{"items", "/items", ada.Token, `{"name":"Teapot","price_cents":1}`, `SELECT count(*) FROM items`},
		{"sign-up", "/users", "", `{"email":"bob@example.com","name":"Bob","password":"correct horse"}`, `SELECT count(*) FROM users WHERE email = 'bob@example.com'`},
	} {
		t.Run(rt.name, func(t *testing.T) {
			reqs := make([]apitest.Request, n)
			for i := range reqs {
				reqs[i] = apitest.Request{Method: http.MethodPost, Path: rt.path, Token: rt.token, Body: rt.body,
					Header: map[string]string{"Idempotency-Key": "burst"}}
			}
			res := condRace(api, reqs)
			var created []*apitest.Response
			for _, r := range res {
				switch r.Status {
				case http.StatusCreated:
					created = append(created, r)
				case http.StatusConflict:
				default:
					t.Errorf("a repeat answered %d %s, want 201 or 409", r.Status, r.Body)
				}
			}
			if len(created) == 0 {
				t.Fatalf("no repeat was answered 201: %v", statuses(res))
			}
			for _, r := range created[1:] {
				if !bytes.Equal(r.Body, created[0].Body) {
					t.Errorf("two 201s with one key differ:\n %s\n %s", created[0].Body, r.Body)
				}
			}
			var rows int
			if err := api.DB.Get(&rows, rt.count); err != nil || rows != 1 {
				t.Errorf("%d rows (%v), want 1", rows, err)
			}
			// Once it is done, a repeat is a replay.
			deadline := time.Now().Add(5 * time.Second)
			for {
				r := api.Do(reqs[0])
				if r.Status == http.StatusCreated {
					if r.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r.Body, created[0].Body) {
						t.Errorf("repeat after the burst = %s (replayed %q)", r.Body, r.Header.Get("Idempotent-Replayed"))
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("repeat after the burst = %d %s", r.Status, r.Body)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// The key's record commits in the same transaction as what the request
// created: when storing the record fails, nothing was created either.
func TestIdempotencyKeyCommitsWithTheResource(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	// The database refuses to store this one key, after the insert of what
	// the request creates.
	if _, err := api.DB.Exec(`ALTER TABLE idempotency_keys ADD CONSTRAINT test_refuses_boom CHECK (key <> 'boom')`); err != nil {
		t.Fatal(err)
	}
	res := idemPost(api, "/items", ada.Token, "boom", newItemBody())
	p := requireProblem(t, res, http.StatusInternalServerError, "/items")
	if p.Detail != "internal server error" {
		t.Errorf("detail = %q", p.Detail)
	}
	if n := countItems(t, api); n != 0 {
		t.Errorf("%d items stored without their key's record, want 0", n)
	}
	requireProblem(t, idemPost(api, "/users", "", "boom", uaSignUpBody("bob@example.com", "Bob", "correct horse")), http.StatusInternalServerError, "/users")
	var users int
	if err := api.DB.Get(&users, `SELECT count(*) FROM users WHERE email = 'bob@example.com'`); err != nil || users != 0 {
		t.Errorf("%d users stored without their key's record (%v), want 0", users, err)
	}
	if n := idemKeys(t, api); n != 0 {
		t.Errorf("%d keys stored, want 0", n)
	}
	// Any other key works.
	if res := idemPost(api, "/items", ada.Token, "fine", newItemBody()); res.Status != http.StatusCreated {
		t.Errorf("another key = %d %s", res.Status, res.Body)
	}
}
