package apitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	problemJSON = `{"type":"about:blank","title":"Not Found","status":404,"detail":"x","instance":"/items/1"}`
	itemJSON    = `{"id":1,"name":"Teapot","description":"","price_cents":0,"owner_id":1,` +
		`"created_at":"2026-01-02T15:04:05Z","updated_at":"2026-01-02T15:04:05Z"}`
)

type exchange struct {
	method, path, body string
	header             map[string]string
	status             int
	resHeader          map[string]string
	resBody            string
}

func (e exchange) check() error {
	req := httptest.NewRequest(e.method, e.path, strings.NewReader(e.body))
	if e.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range e.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-ID", "abc")
	for k, v := range e.resHeader {
		if v == "" {
			rec.Header().Del(k)
		} else {
			rec.Header().Set(k, v)
		}
	}
	rec.WriteHeader(e.status)
	_, _ = rec.WriteString(e.resBody)
	return checkExchange(req, []byte(e.body), rec)
}

var (
	// One item's answer carries its ETag.
	jsonCT    = map[string]string{"Content-Type": "application/json; charset=utf-8", "ETag": `"1-1"`}
	problemCT = map[string]string{"Content-Type": "application/problem+json"}
	bearer    = map[string]string{"Authorization": "Bearer t"}
)

// The checker must pass what the documents describe and fail everything
// else, or every test that relies on it proves nothing.
func TestCheckExchange(t *testing.T) {
	created := map[string]string{"Content-Type": "application/json", "Location": "/items/1", "ETag": `"1-1"`}
	good := []struct {
		name string
		ex   exchange
	}{
		{"documented item", exchange{method: "GET", path: "/items/1", status: 200, resHeader: jsonCT, resBody: itemJSON}},
		{"documented 404", exchange{method: "GET", path: "/items/1", status: 404, resHeader: problemCT, resBody: problemJSON}},
		{"unknown route as a problem", exchange{method: "GET", path: "/nope", status: 404, resHeader: problemCT,
			resBody: strings.Replace(problemJSON, "/items/1", "/nope", 1)}},
		{"405 with Allow", exchange{method: "PATCH", path: "/items", status: 405,
			resHeader: map[string]string{"Content-Type": "application/problem+json", "Allow": "GET, POST"},
			resBody:   `{"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"x","instance":"/items"}`}},
		{"created with Location", exchange{method: "POST", path: "/items", body: `{"name":" Teapot ","price_cents":0,"description":null}`,
			header: bearer, status: 201, resHeader: created, resBody: itemJSON}},
		{"bad request not held to the request schema", exchange{method: "POST", path: "/items", body: `{"name":5}`,
			header: bearer, status: 400, resHeader: problemCT,
			resBody: `{"type":"about:blank","title":"Bad Request","status":400,"detail":"x","instance":"/items","errors":[{"field":"name","message":"m"}]}`}},
		{"trailing-slash redirect", exchange{method: "GET", path: "/items/", status: 301,
			resHeader: map[string]string{"Location": "/items", "Content-Type": "text/html; charset=utf-8"}, resBody: "moved"}},
		{"empty 204", exchange{method: "DELETE", path: "/items/1", header: bearer, status: 204}},
		{"304 with its ETag and no body", exchange{method: "GET", path: "/items/1", header: map[string]string{"If-None-Match": `"1-1"`},
			status: 304, resHeader: map[string]string{"ETag": `"1-1"`}}},
		{"412 problem", exchange{method: "PATCH", path: "/items/1", body: `{"name":"x"}`, header: map[string]string{"Authorization": "Bearer t", "If-Match": `"1-0"`},
			status: 412, resHeader: problemCT,
			resBody: `{"type":"about:blank","title":"Precondition Failed","status":412,"detail":"x","instance":"/items/1"}`}},
	}
	for _, tt := range good {
		if err := tt.ex.check(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}

	bad := []struct {
		name, want string
		ex         exchange
	}{
		{"undocumented status", "status is not supported",
			exchange{method: "GET", path: "/items/1", status: 409, resHeader: problemCT,
				resBody: `{"type":"about:blank","title":"Conflict","status":409,"detail":"x","instance":"/items/1"}`}},
		{"wrong content type", "Content-Type",
			exchange{method: "GET", path: "/items/1", status: 200, resHeader: map[string]string{"Content-Type": "text/plain", "ETag": `"1-1"`}, resBody: itemJSON}},
		{"a member the document does not list", `"password_hash" is unsupported`,
			exchange{method: "GET", path: "/items/1", status: 200, resHeader: jsonCT,
				resBody: strings.Replace(itemJSON, "{", `{"password_hash":"x",`, 1)}},
		{"body not matching the schema", "doesn't match schema",
			exchange{method: "GET", path: "/items/1", status: 200, resHeader: jsonCT, resBody: `{"id":"one"}`}},
		{"error not a problem", "application/problem+json",
			exchange{method: "GET", path: "/items/1", status: 404, resHeader: jsonCT, resBody: problemJSON}},
		{"problem with the wrong status", "problem says status",
			exchange{method: "GET", path: "/items/1", status: 400, resHeader: problemCT, resBody: problemJSON}},
		{"missing Location", `"Location" missing`,
			exchange{method: "POST", path: "/items", body: `{"name":"Teapot","price_cents":0}`, header: bearer,
				status: 201, resHeader: jsonCT, resBody: itemJSON}},
		{"missing X-Request-ID", `"X-Request-ID"`,
			exchange{method: "GET", path: "/items/1", status: 200, resHeader: map[string]string{"Content-Type": "application/json", "ETag": `"1-1"`, "X-Request-ID": ""}, resBody: itemJSON}},
		{"missing ETag", `"ETag" missing`,
			exchange{method: "GET", path: "/items/1", status: 200, resHeader: map[string]string{"Content-Type": "application/json"}, resBody: itemJSON}},
		{"a body on a 304", "without a body",
			exchange{method: "GET", path: "/items/1", status: 304, resHeader: map[string]string{"ETag": `"1-1"`}, resBody: itemJSON}},
		{"accepted request the documents refuse", "does not match the documented request",
			exchange{method: "POST", path: "/items", body: `{"name":"Teapot","price_cents":-1}`, header: bearer,
				status: 201, resHeader: created, resBody: itemJSON}},
		{"protected route answered without a token", "no bearer token",
			exchange{method: "DELETE", path: "/items/1", status: 204}},
		{"405 without Allow", "Allow",
			exchange{method: "PATCH", path: "/items", status: 405, resHeader: problemCT,
				resBody: `{"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"x","instance":"/items"}`}},
		{"unknown route answered 200", "no documented operation",
			exchange{method: "GET", path: "/nope", status: 200, resHeader: jsonCT, resBody: `{}`}},
		{"body on a documented empty response", "without a body",
			exchange{method: "DELETE", path: "/items/1", header: bearer, status: 204, resBody: `{}`}},
	}
	for _, tt := range bad {
		err := tt.ex.check()
		if err == nil {
			t.Errorf("%s: passed, want an error", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.want)
		}
	}
}

// A test whose exchange the documents do not describe fails.
func TestCheckedHandlerFailsTheTest(t *testing.T) {
	rec := &recordingTB{TB: t}
	h := checkedHandler{t: rec, next: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Request-ID", "abc")
		w.WriteHeader(http.StatusTeapot)
	})}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w.Code != http.StatusTeapot {
		t.Errorf("the response was not passed on: %d", w.Code)
	}
	if !strings.Contains(rec.failure, "GET /healthz answered 418") {
		t.Errorf("failure = %q, want it to name the exchange", rec.failure)
	}
}

type recordingTB struct {
	testing.TB
	failure string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.failure = fmt.Sprintf(format, args...)
}
