package controllers_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/internal/apitest"
)

// The helpers below carry a "cond" prefix (conditional requests).

var strongETag = regexp.MustCompile(`^"[!#-~]+"$`)

// condETag returns the response's ETag, failing unless it is one strong
// entity tag.
func condETag(t *testing.T, res *apitest.Response) string {
	t.Helper()
	values := res.Header.Values("ETag")
	if len(values) != 1 || !strongETag.MatchString(values[0]) {
		t.Fatalf("ETag = %q, want one strong entity tag; status %d body %s", values, res.Status, res.Body)
	}
	return values[0]
}

// condNoETag fails if an error answer carries an ETag: it is not the
// resource's representation.
func condNoETag(t *testing.T, res *apitest.Response) {
	t.Helper()
	if tag := res.Header.Get("ETag"); tag != "" {
		t.Errorf("a %d answer has ETag %q", res.Status, tag)
	}
}

// condGet fetches path and returns the body and ETag of its 200.
func condGet(t *testing.T, api *apitest.API, path, token string) ([]byte, string) {
	t.Helper()
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: token})
	if res.Status != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, res.Status, res.Body)
	}
	return res.Body, condETag(t, res)
}

// condNotModified checks a 304: no body, and the current ETag repeated.
func condNotModified(t *testing.T, res *apitest.Response, current string) {
	t.Helper()
	if res.Status != http.StatusNotModified {
		t.Fatalf("status = %d %s, want 304", res.Status, res.Body)
	}
	if len(res.Body) != 0 {
		t.Errorf("304 has a body: %q", res.Body)
	}
	if got := res.Header.Get("ETag"); got != current {
		t.Errorf("304 ETag = %q, want the current %q", got, current)
	}
}

func TestETagsOnEveryAnswerOfOneResource(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)

	signUp := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("ada@example.com", "Ada", "password")})
	if signUp.Status != http.StatusCreated {
		t.Fatalf("sign up = %d %s", signUp.Status, signUp.Body)
	}
	userTag := condETag(t, signUp)
	ada := uaDecodeUser(t, signUp.Body)
	token := api.Login("ada@example.com", "password")
	userPath := uaUserPath(ada.ID)
	for _, p := range []string{userPath, "/users/me"} {
		if _, tag := condGet(t, api, p, token); tag != userTag {
			t.Errorf("GET %s ETag = %s, sign-up's %s", p, tag, userTag)
		}
	}

	created := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Body: newItemBody(), Token: token})
	if created.Status != http.StatusCreated {
		t.Fatalf("POST /items = %d %s", created.Status, created.Body)
	}
	itemTag := condETag(t, created)
	it := requireItemShape(t, created.Body)
	other := createItem(t, api, token, map[string]any{"name": "Other", "price_cents": 1})
	if _, tag := condGet(t, api, itemPath(it.ID), ""); tag != itemTag {
		t.Errorf("GET ETag %s, POST's %s", tag, itemTag)
	}
	if _, tag := condGet(t, api, itemPath(other.ID), ""); tag == itemTag {
		t.Errorf("two items share the ETag %s", tag)
	}

	// Every change moves the tag on, and the write answers with the tag a
	// GET then shows; a write that was refused moves nothing.
	seen := map[string]bool{itemTag: true}
	for _, w := range []apitest.Request{
		{Method: http.MethodPut, Body: map[string]any{"name": "Kettle"}},
		{Method: http.MethodPatch, Body: map[string]any{"price_cents": 5}},
		{Method: http.MethodPut, Body: `{}`},
		{Method: http.MethodPatch, Body: `{}`},
	} {
		w.Path, w.Token = itemPath(it.ID), token
		res := api.Do(w)
		if res.Status != http.StatusOK {
			t.Fatalf("%s = %d %s", w.Method, res.Status, res.Body)
		}
		tag := condETag(t, res)
		if seen[tag] {
			t.Errorf("%s %v answered the ETag %s, seen before", w.Method, w.Body, tag)
		}
		seen[tag] = true
		body, got := condGet(t, api, itemPath(it.ID), "")
		if got != tag || !bytes.Equal(body, res.Body) {
			t.Errorf("GET after %s: ETag %s body %s; the write answered %s %s", w.Method, got, body, tag, res.Body)
		}
		itemTag = tag
	}
	for _, refused := range []apitest.Request{
		{Method: http.MethodPut, Body: `{"name":""}`, Token: token},
		{Method: http.MethodPatch, Body: `{"name":null}`, Token: token},
		{Method: http.MethodPut, Body: `{"name":"x"}`},
		{Method: http.MethodPut, Body: `{"name":"x"}`, Token: token, Header: map[string]string{"If-Match": `"0-0"`}},
	} {
		refused.Path = itemPath(it.ID)
		res := api.Do(refused)
		if res.Status < 400 {
			t.Fatalf("%s %v = %d, want refused", refused.Method, refused.Body, res.Status)
		}
		condNoETag(t, res)
		if _, tag := condGet(t, api, itemPath(it.ID), ""); tag != itemTag {
			t.Errorf("a refused %s moved the ETag %s to %s", refused.Method, itemTag, tag)
		}
	}

	// A user's tag moves with every change too, the role's included.
	res := api.Do(apitest.Request{Method: http.MethodPatch, Path: userPath, Body: map[string]any{"name": "Ada King"}, Token: token})
	if res.Status != http.StatusOK {
		t.Fatalf("PATCH user = %d %s", res.Status, res.Body)
	}
	patched := condETag(t, res)
	res = api.Do(apitest.Request{Method: http.MethodPut, Path: userPath, Body: map[string]any{"email": "ada.king@example.com"}, Token: token})
	if res.Status != http.StatusOK {
		t.Fatalf("PUT user = %d %s", res.Status, res.Body)
	}
	put := condETag(t, res)
	api.SetRole("ada.king@example.com", "admin")
	body, promoted := condGet(t, api, "/users/me", token)
	if len(map[string]bool{userTag: true, patched: true, put: true, promoted: true}) != 4 {
		t.Errorf("ETags sign-up %s, PATCH %s, PUT %s, promoted %s: want four different", userTag, patched, put, promoted)
	}
	if u := uaDecodeUser(t, body); u.Role != "admin" {
		t.Errorf("role after promotion = %q", u.Role)
	}

	// The tag comes from the database, so another replica on the same
	// database gives the same one.
	replica, cleanup, err := apitemplate.InitializeApp(api.Config, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	for _, path := range []string{itemPath(it.ID), itemPath(other.ID)} {
		w := httptest.NewRecorder()
		replica.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		_, here := condGet(t, api, path, "")
		if there := w.Header().Get("ETag"); w.Code != http.StatusOK || there != here {
			t.Errorf("GET %s: ETag %s on one replica, %q (%d) on another", path, here, there, w.Code)
		}
	}
}

func TestIfNoneMatch(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	bob := api.SignUp("bob@example.com", "Bob", "password")
	admin := api.SignUpAdmin("root@example.com", "Root", "password")
	it := createItem(t, api, ada.Token, newItemBody())
	other := createItem(t, api, ada.Token, map[string]any{"name": "Other", "price_cents": 1})
	_, otherTag := condGet(t, api, itemPath(other.ID), "")

	resources := []struct {
		name, path, token string
	}{
		{"item", itemPath(it.ID), ""},
		{"item, with a token", itemPath(it.ID), bob.Token},
		{"user by id", uaUserPath(ada.ID), ada.Token},
		{"the caller", "/users/me", ada.Token},
		{"another user, as an admin", uaUserPath(ada.ID), admin.Token},
	}
	for _, r := range resources {
		t.Run(r.name, func(t *testing.T) {
			body, current := condGet(t, api, r.path, r.token)
			get := func(inm string) *apitest.Response {
				return api.Do(apitest.Request{Method: http.MethodGet, Path: r.path, Token: r.token, Header: map[string]string{"If-None-Match": inm}})
			}
			for _, inm := range []string{current, "W/" + current, "*", `"nope", ` + current, current + `,"nope"`} {
				condNotModified(t, get(inm), current)
			}
			// A tag that is not the current one gets the whole answer.
			for _, inm := range []string{otherTag, `"nope"`, strings.Trim(current, `"`), `""`} {
				res := get(inm)
				if res.Status != http.StatusOK || !bytes.Equal(res.Body, body) || res.Header.Get("ETag") != current {
					t.Errorf("If-None-Match %s: %d %s (ETag %q), want 200 with the resource", inm, res.Status, res.Body, res.Header.Get("ETag"))
				}
			}
		})
	}

	t.Run("after a change", func(t *testing.T) {
		_, before := condGet(t, api, itemPath(it.ID), "")
		if res := api.Do(apitest.Request{Method: http.MethodPatch, Path: itemPath(it.ID), Body: `{"name":"Kettle"}`, Token: ada.Token}); res.Status != http.StatusOK {
			t.Fatalf("PATCH = %d %s", res.Status, res.Body)
		}
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: itemPath(it.ID), Header: map[string]string{"If-None-Match": before}})
		if res.Status != http.StatusOK || requireItemShape(t, res.Body).Name != "Kettle" {
			t.Errorf("If-None-Match with the tag before the change = %d %s, want 200 with the change", res.Status, res.Body)
		}
		condNotModified(t, api.Do(apitest.Request{Method: http.MethodGet, Path: itemPath(it.ID), Header: map[string]string{"If-None-Match": condETag(t, res)}}), condETag(t, res))
	})

	// Rights and existence come first: a matching tag reveals nothing.
	t.Run("refused", func(t *testing.T) {
		_, adaTag := condGet(t, api, "/users/me", ada.Token)
		for _, tt := range []struct {
			path, token string
			status      int
		}{
			{uaUserPath(ada.ID), bob.Token, http.StatusForbidden},
			{uaUserPath(ada.ID), "", http.StatusUnauthorized},
			{"/users/me", "", http.StatusUnauthorized},
			{itemPath(424242), "", http.StatusNotFound},
			{uaUserPath(424242), admin.Token, http.StatusNotFound},
		} {
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: tt.path, Token: tt.token, Header: map[string]string{"If-None-Match": "*"}})
			requireProblem(t, res, tt.status, tt.path)
			res = api.Do(apitest.Request{Method: http.MethodGet, Path: tt.path, Token: tt.token, Header: map[string]string{"If-None-Match": adaTag}})
			requireProblem(t, res, tt.status, tt.path)
		}
	})
}

// condWrite is one conditional write for the table of TestIfMatch.
type condWrite struct {
	method string
	body   string
}

var condWrites = []condWrite{
	{http.MethodPut, `{"name":"Changed"}`},
	{http.MethodPatch, `{"name":"Changed"}`},
	{http.MethodDelete, ""},
}

func (w condWrite) do(api *apitest.API, path, token, ifMatch string) *apitest.Response {
	r := apitest.Request{Method: w.method, Path: path, Token: token}
	if w.body != "" {
		r.Body = w.body
	}
	if ifMatch != "" {
		r.Header = map[string]string{"If-Match": ifMatch}
	}
	return api.Do(r)
}

func (w condWrite) succeeded(res *apitest.Response) bool {
	if w.method == http.MethodDelete {
		return res.Status == http.StatusNoContent
	}
	return res.Status == http.StatusOK
}

func TestIfMatchOnItems(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	bob := api.SignUp("bob@example.com", "Bob", "password")
	admin := api.SignUpAdmin("root@example.com", "Root", "password")
	neighbour := createItem(t, api, ada.Token, map[string]any{"name": "Neighbour", "price_cents": 1})
	_, neighbourTag := condGet(t, api, itemPath(neighbour.ID), "")

	for _, w := range condWrites {
		t.Run(w.method, func(t *testing.T) {
			it := createItem(t, api, ada.Token, newItemBody())
			path := itemPath(it.ID)
			// The tag of the item before its last change.
			_, stale := condGet(t, api, path, "")
			if res := api.Do(apitest.Request{Method: http.MethodPatch, Path: path, Body: `{"price_cents":1}`, Token: ada.Token}); res.Status != http.StatusOK {
				t.Fatalf("PATCH = %d %s", res.Status, res.Body)
			}
			body, current := condGet(t, api, path, "")

			// None of these names the item as it is now: nothing changes.
			for _, ifMatch := range []string{
				stale,
				"W/" + current, // If-Match compares strongly
				neighbourTag,   // another item's tag, whatever its version
				`"nope"`,
				strings.Trim(current, `"`),
				stale + ", " + neighbourTag,
			} {
				res := w.do(api, path, ada.Token, ifMatch)
				requireProblem(t, res, http.StatusPreconditionFailed, path)
				condNoETag(t, res)
				if got, tag := condGet(t, api, path, ""); tag != current || !bytes.Equal(got, body) {
					t.Fatalf("a refused %s with If-Match %s changed the item: %s %s", w.method, ifMatch, tag, got)
				}
			}
			// 404 is decided before 403, and 403 before 412.
			requireProblem(t, w.do(api, itemPath(424242), ada.Token, stale), http.StatusNotFound, itemPath(424242))
			requireProblem(t, w.do(api, itemPath(424242), ada.Token, "*"), http.StatusNotFound, itemPath(424242))
			requireProblem(t, w.do(api, path, bob.Token, stale), http.StatusForbidden, path)
			requireProblem(t, w.do(api, path, bob.Token, current), http.StatusForbidden, path)
			requireProblem(t, w.do(api, path, bob.Token, "*"), http.StatusForbidden, path)
			requireProblem(t, w.do(api, path, admin.Token, stale), http.StatusPreconditionFailed, path)
			requireProblem(t, w.do(api, path, "", current), http.StatusUnauthorized, path)

			// The current tag, alone or among others, applies the write.
			res := w.do(api, path, ada.Token, `"nope", `+stale+", "+current)
			if !w.succeeded(res) {
				t.Fatalf("%s with the current tag among others = %d %s", w.method, res.Status, res.Body)
			}
			if w.method == http.MethodDelete {
				requireProblem(t, api.Do(apitest.Request{Method: http.MethodGet, Path: path}), http.StatusNotFound, path)
				requireProblem(t, w.do(api, path, ada.Token, current), http.StatusNotFound, path)
				return
			}
			next := condETag(t, res)
			requireSameAsGet(t, api, res.Body, it.ID)
			// The tag it had is stale now.
			requireProblem(t, w.do(api, path, ada.Token, current), http.StatusPreconditionFailed, path)
			// * matches any version of an item that exists, for the owner
			// and for an admin; so does the admin's current tag.
			for _, tt := range []struct{ token, ifMatch string }{{ada.Token, "*"}, {admin.Token, "*"}, {admin.Token, ""}} {
				if tt.ifMatch == "" {
					_, tt.ifMatch = condGet(t, api, path, "")
				}
				if res := w.do(api, path, tt.token, tt.ifMatch); res.Status != http.StatusOK {
					t.Errorf("%s with If-Match %s = %d %s, want 200", w.method, tt.ifMatch, res.Status, res.Body)
				}
			}
			// Without If-Match a write applies as before.
			if res := w.do(api, path, ada.Token, ""); res.Status != http.StatusOK || condETag(t, res) == next {
				t.Errorf("%s without If-Match = %d %s, want 200 and a new tag", w.method, res.Status, res.Body)
			}
		})
	}
	// The neighbour was never touched.
	if _, tag := condGet(t, api, itemPath(neighbour.ID), ""); tag != neighbourTag {
		t.Errorf("the neighbour's ETag moved from %s to %s", neighbourTag, tag)
	}
}

func TestIfMatchOnUsers(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	admin := api.SignUpAdmin("root@example.com", "Root", "password")
	bob := api.SignUp("bob@example.com", "Bob", "password")

	for i, w := range condWrites {
		t.Run(w.method, func(t *testing.T) {
			email := fmt.Sprintf("user%d@example.com", i)
			u := api.SignUp(email, "User", "password")
			path := uaUserPath(u.ID)
			_, stale := condGet(t, api, path, u.Token)
			if res := api.Do(apitest.Request{Method: http.MethodPatch, Path: path, Body: `{"name":"Renamed"}`, Token: u.Token}); res.Status != http.StatusOK {
				t.Fatalf("PATCH = %d %s", res.Status, res.Body)
			}
			body, current := condGet(t, api, path, u.Token)
			_, bobTag := condGet(t, api, "/users/me", bob.Token)

			for _, ifMatch := range []string{stale, "W/" + current, bobTag, `"nope"`} {
				res := w.do(api, path, u.Token, ifMatch)
				requireProblem(t, res, http.StatusPreconditionFailed, path)
				condNoETag(t, res)
				if got, tag := condGet(t, api, path, u.Token); tag != current || !bytes.Equal(got, body) {
					t.Fatalf("a refused %s with If-Match %s changed the user: %s %s", w.method, ifMatch, tag, got)
				}
			}
			requireProblem(t, w.do(api, path, admin.Token, stale), http.StatusPreconditionFailed, path)
			// Another user's id is 403 for a non-admin, whatever If-Match says.
			requireProblem(t, w.do(api, path, bob.Token, current), http.StatusForbidden, path)
			requireProblem(t, w.do(api, path, bob.Token, "*"), http.StatusForbidden, path)
			// For an admin, a missing user is 404, If-Match or not.
			requireProblem(t, w.do(api, uaUserPath(424242), admin.Token, "*"), http.StatusNotFound, uaUserPath(424242))
			requireProblem(t, w.do(api, uaUserPath(424242), admin.Token, `"424242-1"`), http.StatusNotFound, uaUserPath(424242))

			if w.method != http.MethodDelete {
				// A conflict is a conflict, with the right tag too, and
				// changes nothing.
				res := api.Do(apitest.Request{Method: w.method, Path: path, Token: u.Token, Body: `{"email":"bob@example.com"}`,
					Header: map[string]string{"If-Match": current}})
				requireProblem(t, res, http.StatusConflict, path)
				if _, tag := condGet(t, api, path, u.Token); tag != current {
					t.Errorf("a conflicting %s moved the tag", w.method)
				}
			}
			res := w.do(api, path, u.Token, stale+", "+current)
			if !w.succeeded(res) {
				t.Fatalf("%s with the current tag = %d %s", w.method, res.Status, res.Body)
			}
			if w.method == http.MethodDelete {
				var n int
				if err := api.DB.Get(&n, `SELECT count(*) FROM users WHERE id = $1`, u.ID); err != nil || n != 0 {
					t.Errorf("user rows after DELETE = %d (%v)", n, err)
				}
				return
			}
			next := condETag(t, res)
			if got, tag := condGet(t, api, path, u.Token); tag != next || !bytes.Equal(got, res.Body) {
				t.Errorf("GET after %s: %s %s; the write answered %s %s", w.method, tag, got, next, res.Body)
			}
			for _, tt := range []struct{ token, ifMatch string }{{u.Token, "*"}, {admin.Token, "*"}} {
				if res := w.do(api, path, tt.token, tt.ifMatch); res.Status != http.StatusOK {
					t.Errorf("%s with If-Match %s = %d %s, want 200", w.method, tt.ifMatch, res.Status, res.Body)
				}
			}
		})
	}
}

// condRace sends the requests at once and returns their answers in order.
func condRace(api *apitest.API, reqs []apitest.Request) []*apitest.Response {
	out := make([]*apitest.Response, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			<-start
			out[i] = api.Do(r)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// Two writers holding the same ETag: exactly one succeeds, the others get
// 412 (or, once a DELETE has won, find nothing), and the winner's change
// is the one that stays.
func TestIfMatchConcurrentWriters(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	admin := api.SignUpAdmin("root@example.com", "Root", "password")
	const writers = 6

	mix := func(path, tag string, token func(i int) string, withDelete bool) []apitest.Request {
		var reqs []apitest.Request
		for i := range writers {
			r := apitest.Request{Path: path, Token: token(i), Header: map[string]string{"If-Match": tag}}
			switch {
			case withDelete && i == writers-1:
				r.Method = http.MethodDelete
			case i%2 == 0:
				r.Method, r.Body = http.MethodPut, fmt.Sprintf(`{"name":"writer %d"}`, i)
			default:
				r.Method, r.Body = http.MethodPatch, fmt.Sprintf(`{"name":"writer %d"}`, i)
			}
			reqs = append(reqs, r)
		}
		return reqs
	}
	check := func(t *testing.T, reqs []apitest.Request, res []*apitest.Response, path, token string, goneStatus int) {
		t.Helper()
		winner := -1
		for i, r := range res {
			switch r.Status {
			case http.StatusOK, http.StatusNoContent:
				if winner >= 0 {
					t.Errorf("writers %d and %d both succeeded with the same If-Match: %s / %s", winner, i, res[winner].Body, r.Body)
				}
				winner = i
			case http.StatusPreconditionFailed, goneStatus:
			default:
				t.Errorf("writer %d (%s) = %d %s, want 200, 204 or 412", i, reqs[i].Method, r.Status, r.Body)
			}
		}
		if winner < 0 {
			t.Fatalf("no writer succeeded: %v", statuses(res))
		}
		got := api.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: token})
		if reqs[winner].Method == http.MethodDelete {
			if got.Status == http.StatusOK {
				t.Errorf("the DELETE won, yet GET %s = 200 %s", path, got.Body)
			}
			return
		}
		if got.Status != http.StatusOK || !bytes.Equal(got.Body, res[winner].Body) {
			t.Errorf("GET after the race = %d %s, want the winner's %s", got.Status, got.Body, res[winner].Body)
		}
	}

	for round := range 3 {
		t.Run(fmt.Sprintf("item round %d", round), func(t *testing.T) {
			it := createItem(t, api, ada.Token, newItemBody())
			path := itemPath(it.ID)
			_, tag := condGet(t, api, path, "")
			// The owner and an admin alike: the condition is the version.
			reqs := mix(path, tag, func(i int) string {
				if i%3 == 0 {
					return admin.Token
				}
				return ada.Token
			}, round == 2)
			check(t, reqs, condRace(api, reqs), path, "", http.StatusNotFound)
		})
	}
	for round := range 3 {
		t.Run(fmt.Sprintf("user round %d", round), func(t *testing.T) {
			u := api.SignUp(fmt.Sprintf("racer%d@example.com", round), "Racer", "password")
			path := uaUserPath(u.ID)
			_, tag := condGet(t, api, path, u.Token)
			reqs := mix(path, tag, func(i int) string {
				if i%3 == 0 {
					return admin.Token
				}
				return u.Token
			}, round == 2)
			// Once the user is deleted their own token is void (401), and an
			// admin finds nobody (404).
			res := condRace(api, reqs)
			for i, r := range res {
				if r.Status == http.StatusUnauthorized && reqs[i].Token == u.Token {
					r.Status = http.StatusNotFound
				}
			}
			check(t, reqs, res, path, admin.Token, http.StatusNotFound)
		})
	}
}

func statuses(res []*apitest.Response) []int {
	out := make([]int, len(res))
	for i, r := range res {
		out[i] = r.Status
	}
	return out
}
