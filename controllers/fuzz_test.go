package controllers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/example/apitemplate/internal/apitest"
)

// The fuzz targets drive the real router, wired as in production, with
// whatever bytes the fuzzer makes up. Each target's f.Add seeds run as an
// ordinary test in `make test`; `make test-faults` fuzzes each for a while.
// Whatever comes in, the answer must be below 500 and be either a documented
// success or a problem+json body: apitest checks every exchange against
// docs/openapi.json, and checkAnswer adds what the document cannot say.

// bodySeeds are the inputs every body target starts from: valid bodies,
// wrong types, broken JSON, nulls, huge numbers, odd Unicode.
var bodySeeds = []string{
	``,
	`{}`,
	`null`,
	`[]`,
	`"x"`,
	`{`,
	`{"email":"a@example.com","name":"A","password":"password123"}`,
	`{"email":"a@example.com","password":"password123"}`,
	`{"name":"Teapot","description":"Short","price_cents":1999}`,
	`{"name":"  ","price_cents":0}`,
	`{"name":null,"description":null,"price_cents":null}`,
	`{"price_cents":-1}`,
	`{"price_cents":1e400}`,
	`{"price_cents":99999999999999999999999}`,
	`{"price_cents":"12"}`,
	`{"price_cents":1.5}`,
	`{"email":123,"name":true,"password":[]}`,
	`{"email":"a@example.com","email":"b@example.com"}`,
	`{"name":"\u0000\ud800","description":"\xff"}`,
	`{"name":"a\u0000b","email":"a\u0000@example.com","description":"\u0000","price_cents":1,"password":"pass\u0000word1"}`,
	`{"unknown":1}`,
	`{"description":null}`,
	`{"name":null,"price_cents":-1,"email":null}`,
	`{"current_password":"password123","new_password":"password456"}`,
	`{"refresh_token":"x"}`,
	`{"name":"Teapot","price_cents":1}trailing`,
	`{"name":"Teapot","price_cents":1}{"name":"x"}`,
	`{"email":"` + strings.Repeat("a", 300) + `@example.com","password":"` + strings.Repeat("p", 100) + `"}`,
}

// checkAnswer fails t unless res is below 500, and an error is a
// problem+json body whose status matches the response.
func checkAnswer(t *testing.T, res *apitest.Response) {
	t.Helper()
	if res.Status >= 500 {
		t.Fatalf("answered %d: %s", res.Status, res.Body)
	}
	if res.Status < 400 {
		if res.Status != http.StatusNoContent && res.Status != http.StatusNotModified && !json.Valid(res.Body) {
			t.Fatalf("answered %d with a body that is not JSON: %q", res.Status, res.Body)
		}
		return
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("answered %d with Content-Type %q, want application/problem+json", res.Status, ct)
	}
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	if err := json.Unmarshal(res.Body, &p); err != nil {
		t.Fatalf("answered %d with a problem body that is not JSON (%v): %q", res.Status, err, res.Body)
	}
	if p.Status != res.Status || p.Title != http.StatusText(res.Status) {
		t.Fatalf("problem body says %d %q, the response %d: %s", p.Status, p.Title, res.Status, res.Body)
	}
}

// fuzzBody fuzzes one method and path with arbitrary JSON bodies; path and
// token come from setup, run once per fuzzing process.
func fuzzBody(f *testing.F, setup func(api *apitest.API) (method, path, token string)) {
	fuzzBodyAs(f, "", setup)
}

// fuzzBodyAs is fuzzBody with a Content-Type of its own ("" for JSON).
func fuzzBodyAs(f *testing.F, contentType string, setup func(api *apitest.API) (method, path, token string)) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	api := apitest.New(f)
	method, path, token := setup(api)
	var header map[string]string
	if contentType != "" {
		header = map[string]string{"Content-Type": contentType}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res := api.For(t).Do(apitest.Request{Method: method, Path: path, Token: token, Body: body, Header: header})
		checkAnswer(t, res)
	})
}

func FuzzCreateUserRequest(f *testing.F) {
	fuzzBody(f, func(*apitest.API) (string, string, string) {
		return http.MethodPost, "/users", ""
	})
}

func FuzzUpdateUserRequest(f *testing.F) {
	fuzzBody(f, func(api *apitest.API) (string, string, string) {
		u := api.SignUp("fuzz@example.com", "Fuzz", "password123")
		return http.MethodPut, "/users/" + strconv.FormatInt(u.ID, 10), u.Token
	})
}

func FuzzLoginRequest(f *testing.F) {
	fuzzBody(f, func(api *apitest.API) (string, string, string) {
		api.SignUp("a@example.com", "A", "password123")
		return http.MethodPost, "/auth/login", ""
	})
}

func FuzzCreateItemRequest(f *testing.F) {
	fuzzBody(f, func(api *apitest.API) (string, string, string) {
		u := api.SignUp("fuzz@example.com", "Fuzz", "password123")
		return http.MethodPost, "/items", u.Token
	})
}

func FuzzUpdateItemRequest(f *testing.F) {
	fuzzBody(f, func(api *apitest.API) (string, string, string) {
		u := api.SignUp("fuzz@example.com", "Fuzz", "password123")
		res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Token: u.Token,
			Body: map[string]any{"name": "Teapot", "price_cents": 1}})
		if res.Status != http.StatusCreated {
			f.Fatalf("create item: %d %s", res.Status, res.Body)
		}
		var it itemJSON
		res.JSON(f, &it)
		return http.MethodPut, "/items/" + strconv.FormatInt(it.ID, 10), u.Token
	})
}

func FuzzPatchUserRequest(f *testing.F) {
	fuzzBodyAs(f, "application/merge-patch+json", func(api *apitest.API) (string, string, string) {
		u := api.SignUp("fuzz@example.com", "Fuzz", "password123")
		return http.MethodPatch, "/users/" + strconv.FormatInt(u.ID, 10), u.Token
	})
}

func FuzzPatchItemRequest(f *testing.F) {
	fuzzBodyAs(f, "application/merge-patch+json", func(api *apitest.API) (string, string, string) {
		u := api.SignUp("fuzz@example.com", "Fuzz", "password123")
		res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Token: u.Token,
			Body: map[string]any{"name": "Teapot", "price_cents": 1}})
		if res.Status != http.StatusCreated {
			f.Fatalf("create item: %d %s", res.Status, res.Body)
		}
		var it itemJSON
		res.JSON(f, &it)
		return http.MethodPatch, "/items/" + strconv.FormatInt(it.ID, 10), u.Token
	})
}

func FuzzRefreshRequest(f *testing.F) {
	fuzzBody(f, func(api *apitest.API) (string, string, string) {
		api.SignUp("fuzz@example.com", "Fuzz", "password123")
		return http.MethodPost, "/auth/refresh", ""
	})
}

// FuzzHeaders fuzzes the request headers the API reads besides the body:
// Idempotency-Key on a create, If-None-Match on a read and If-Match on a
// write of one resource.
func FuzzHeaders(f *testing.F) {
	for _, s := range []string{"", "*", `"1-1"`, `W/"1-1"`, `"1-1", "1-2"`, `"1-"`, `"-1"`, `"1-99999999999999999999"`, `""`, `,`, `"`,
		"key", "two words", "\x00", strings.Repeat("k", 256), "clé"} {
		f.Add(s)
	}
	api := apitest.New(f)
	u := api.SignUp("fuzz@example.com", "Fuzz", "password123")
	res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Token: u.Token,
		Body: map[string]any{"name": "Teapot", "price_cents": 1}})
	if res.Status != http.StatusCreated {
		f.Fatalf("create item: %d %s", res.Status, res.Body)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsAny(value, "\r\n\x00") {
			return // net/http refuses such header values before any handler
		}
		a := api.For(t)
		for _, r := range []apitest.Request{
			{Method: http.MethodPost, Path: "/items", Token: u.Token, Body: `{"name":"x","price_cents":1}`, Header: map[string]string{"Idempotency-Key": value}},
			{Method: http.MethodGet, Path: "/items/1", Header: map[string]string{"If-None-Match": value}},
			{Method: http.MethodGet, Path: "/users/me", Token: u.Token, Header: map[string]string{"If-None-Match": value}},
			{Method: http.MethodPatch, Path: "/items/1", Token: u.Token, Body: `{"name":"x"}`, Header: map[string]string{"If-Match": value}},
			{Method: http.MethodPut, Path: "/users/" + strconv.FormatInt(u.ID, 10), Token: u.Token, Body: `{}`, Header: map[string]string{"If-Match": value}},
		} {
			checkAnswer(t, a.Do(r))
		}
	})
}

// FuzzListQuery fuzzes the query parsers: limit, offset and owner_id on
// both lists.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{"", "0", "1", "50", "100", "101", "-1", "1.5", "1e3", "abc", " 1", "+1",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "0x10", "１"} {
		f.Add(s, s, s)
	}
	f.Add("10", "", "1")
	api := apitest.New(f)
	// An admin, so that the users list reads its query too.
	u := api.SignUpAdmin("fuzz@example.com", "Fuzz", "password123")
	f.Fuzz(func(t *testing.T, limit, offset, owner string) {
		q := url.Values{"limit": {limit}, "offset": {offset}, "owner_id": {owner}}.Encode()
		a := api.For(t)
		checkAnswer(t, a.Do(apitest.Request{Method: http.MethodGet, Path: "/items?" + q}))
		q = url.Values{"limit": {limit}, "offset": {offset}}.Encode()
		checkAnswer(t, a.Do(apitest.Request{Method: http.MethodGet, Path: "/users?" + q, Token: u.Token}))
	})
}

// FuzzPathID fuzzes the {id} path parser on every route that has one. The
// caller owns no item and is not the user named, so nothing is changed.
func FuzzPathID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "2", "abc", "1.0", "1e3", " 1", "%", "%2F", "..", "me",
		"9223372036854775807", "9223372036854775808", "00001", "１"} {
		f.Add(s)
	}
	api := apitest.New(f)
	u := api.SignUp("fuzz@example.com", "Fuzz", "password123")
	other := api.SignUp("other@example.com", "Other", "password123")
	if res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Token: other.Token,
		Body: map[string]any{"name": "Teapot", "price_cents": 1}}); res.Status != http.StatusCreated {
		f.Fatalf("create item: %d %s", res.Status, res.Body)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if id == "" || strings.Contains(id, "/") {
			// The router matches on the unescaped path, so these never reach
			// the id parser: "/items/" and "/items//" are redirected to the
			// path without the slash, like any path with one too many.
			return
		}
		a := api.For(t)
		seg := url.PathEscape(id)
		for _, r := range []apitest.Request{
			{Method: http.MethodGet, Path: "/items/" + seg},
			{Method: http.MethodPut, Path: "/items/" + seg, Token: u.Token, Body: `{"name":"x"}`},
			{Method: http.MethodPatch, Path: "/items/" + seg, Token: u.Token, Body: `{"name":"x"}`},
			{Method: http.MethodDelete, Path: "/items/" + seg, Token: u.Token},
			{Method: http.MethodGet, Path: "/users/" + seg, Token: u.Token},
			{Method: http.MethodPatch, Path: "/users/" + seg, Token: u.Token, Body: `{}`},
		} {
			checkAnswer(t, a.Do(r))
		}
	})
}
