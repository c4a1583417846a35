package apitemplate_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/internal/apitest"
)

// With tracing on, a request is one trace: a server span named by its
// route template, which continues the caller's traceparent, with a child
// span for each SQL statement (its text, never its arguments) and for
// password hashing; its status follows the HTTP status.
func TestTracingSpansOfARequest(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	provider := trace.NewTracerProvider(trace.WithSyncer(spans))
	api := apitest.New(t, func(c *app.Config) { c.TracerProvider = provider })

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceparent := "00-" + traceID + "-00f067aa0ba902b7-01"
	res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Header: map[string]string{"traceparent": traceparent},
		Body: map[string]string{"email": "ada@example.com", "name": "Ada", "password": "correct horse"}})
	if res.Status != http.StatusCreated {
		t.Fatalf("sign up: %d %s", res.Status, res.Body)
	}
	token := api.Login("ada@example.com", "correct horse")
	spans.Reset()
	res = api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Token: token, Header: map[string]string{"traceparent": traceparent},
		Body: `{"name":"Teapot","price_cents":1999}`})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /items: %d %s", res.Status, res.Body)
	}

	got := spans.GetSpans()
	server := slices.IndexFunc(got, func(s tracetest.SpanStub) bool { return s.SpanKind == oteltrace.SpanKindServer })
	if server < 0 {
		t.Fatalf("no server span among %d", len(got))
	}
	root := got[server]
	if root.Name != "POST /items" || root.SpanContext.TraceID().String() != traceID || root.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Fatalf("server span %q in trace %s, parent %s; want POST /items continuing %s", root.Name, root.SpanContext.TraceID(), root.Parent.SpanID(), traceparent)
	}
	// A statement's span is the server span's child. The first use of a
	// statement on a connection also prepares it, a span under that one.
	var statements []string
	for _, s := range got {
		if s.SpanKind != oteltrace.SpanKindClient {
			continue
		}
		if s.SpanContext.TraceID() != root.SpanContext.TraceID() {
			t.Errorf("statement span %q is in another trace", s.Name)
		}
		for _, a := range s.Attributes {
			switch {
			case a.Key == "pgx.query.parameters":
				t.Errorf("span %q carries the statement's arguments", s.Name)
			case a.Key == "db.query.text" && s.Parent.SpanID() == root.SpanContext.SpanID():
				statements = append(statements, strings.Join(strings.Fields(a.Value.AsString()), " "))
			}
		}
	}
	if len(statements) != 2 || !strings.HasPrefix(statements[0], "SELECT role") || !strings.HasPrefix(statements[1], "INSERT INTO items") {
		t.Errorf("statement spans under the server span = %q, want the identity check and the insert", statements)
	}

	// A sign-up hashes a password: a span of its own. A 404 is not an error.
	spans.Reset()
	api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: map[string]string{"email": "bob@example.com", "name": "Bob", "password": "correct horse"}})
	if !slices.ContainsFunc(spans.GetSpans(), func(s tracetest.SpanStub) bool { return s.Name == "password.hash" }) {
		t.Errorf("no password.hash span for a sign-up")
	}
	spans.Reset()
	api.Do(apitest.Request{Method: http.MethodGet, Path: "/items/424242"})
	for _, s := range spans.GetSpans() {
		if s.SpanKind == oteltrace.SpanKindServer && s.Status.Code.String() == "Error" {
			t.Errorf("a 404 made the server span an error")
		}
	}
}

// Profiles are never on the API's port, whatever PPROF_ENABLED says.
func TestPprofIsNotOnTheAPI(t *testing.T) {
	api := apitest.New(t, func(c *app.Config) { c.PprofEnabled, c.MetricsAddr = true, "127.0.0.1:0" })
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/profile", "/debug/pprof/heap"} {
		if res := api.Do(apitest.Request{Method: http.MethodGet, Path: path}); res.Status != http.StatusNotFound {
			t.Errorf("GET %s on the API = %d, want 404", path, res.Status)
		}
	}
}
