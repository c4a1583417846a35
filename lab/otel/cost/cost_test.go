// Package cost_test holds the app to "tracing off is free" from its
// exported API, and measures what tracing costs in process:
//
//   - off is the path of a template without tracing code: the router's
//     middleware chain is the traced one less otelgin and nothing else, the
//     pool's connections have no statement hook, and the logger is the
//     plain JSON handler (TestTracingOffAddsNothing);
//   - BenchmarkGetRoot sets GET / through the router with tracing off
//     beside a router assembled here, by hand, from the same middleware and
//     no tracing code at all: the one "before and after" the template
//     allows, since it has no build without tracing;
//   - BenchmarkGetItem is a whole GET /items/{id}, off and on;
//   - BenchmarkPoolWaitSpan is the one piece of tracing code that runs with
//     tracing off: a statement that finds every connection busy starts (a
//     no-op) span "db.pool.wait" while it waits (repositories/data.go).
//
// `make -C lab test-otel` runs the test, `make -C lab bench` the benchmarks.
package cost_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/stdlib"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/internal/apitest"
)

// traced turns tracing on in a configuration as a test may: a provider
// that samples every request and sends its spans by OTLP/HTTP, as the
// server's own does, to a sink that answers 200.
func traced(t testing.TB) func(*app.Config) {
	t.Helper()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(sink.Close)
	exporter, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(sink.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	return func(c *app.Config) { c.TracerProvider = provider }
}

var funcSuffix = regexp.MustCompile(`(\.func\d+)+$`)

// handlerName is what a middleware is, whatever function it was built in:
// "AccessLog" for the closure controllers.AccessLog returns (which the
// compiler may name app.NewRouter.AccessLog.func1), "(*HTTPMetrics).Middleware"
// for a method value, "otelgin.Middleware" for otelgin's.
func handlerName(h gin.HandlerFunc) (full, short string) {
	full = runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
	name := strings.TrimSuffix(full[strings.LastIndex(full, "/")+1:], "-fm")
	name = funcSuffix.ReplaceAllString(name, "")
	parts := strings.Split(name, ".")
	switch {
	case strings.Contains(full, "/otelgin."):
		return full, "otelgin." + parts[len(parts)-1]
	case len(parts) >= 3 && strings.HasPrefix(parts[len(parts)-2], "("):
		return full, parts[len(parts)-2] + "." + parts[len(parts)-1]
	}
	return full, parts[len(parts)-1]
}

func chainNames(chain gin.HandlersChain) (full, short []string) {
	for _, h := range chain {
		f, s := handlerName(h)
		full, short = append(full, f), append(short, s)
	}
	return full, short
}

func TestTracingOffAddsNothing(t *testing.T) {
	off := apitest.New(t)
	on := apitest.New(t, traced(t))

	// The middleware chain: on is off plus otelgin's, and off holds no
	// OpenTelemetry code at all.
	offFull, offNames := chainNames(off.Engine.Handlers)
	onFull, onNames := chainNames(on.Engine.Handlers)
	for _, n := range offFull {
		if strings.Contains(n, "opentelemetry") || strings.Contains(n, "otel") {
			t.Errorf("tracing off, the router runs %s", n)
		}
	}
	i := slices.IndexFunc(onNames, func(n string) bool { return strings.HasPrefix(n, "otelgin.") })
	if i < 0 {
		t.Fatalf("tracing on, no otelgin middleware in %q", onFull)
	}
	if without := slices.Delete(slices.Clone(onNames), i, i+1); !slices.Equal(without, offNames) {
		t.Errorf("tracing on, the chain less otelgin is %q; off it is %q", without, offNames)
	}
	t.Logf("middleware, tracing off: %s", strings.Join(offNames, ", "))
	t.Logf("middleware, tracing on:  %s", strings.Join(onNames, ", "))

	// GET / allocates with tracing off exactly what it does through the
	// same middleware assembled with no tracing code.
	bare := noTracingCode(t)
	if _, n := chainNames(bare.Handlers); !slices.Equal(n, offNames) {
		t.Fatalf("the hand-made chain %q is no longer the app's with tracing off (%q): update noTracingCode", n, offNames)
	}
	allocs := func(h http.Handler) float64 {
		w := &discard{h: http.Header{}}
		return testing.AllocsPerRun(200, func() {
			clear(w.h)
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		})
	}
	if a, b := allocs(off.Engine), allocs(bare); a > b {
		t.Errorf("GET / allocates %.1f times with tracing off, %.1f with no tracing code", a, b)
	} else {
		t.Logf("GET / allocations: %.1f tracing off, %.1f with no tracing code, %.1f tracing on (its export, batched, not included)", a, b, allocs(on.Engine))
	}

	// The statement hook: none on the pool's connections when off.
	for _, c := range []struct {
		name string
		cfg  app.Config
		want bool
	}{{"off", off.Config, false}, {"on", on.Config, true}} {
		tracing, stop, err := app.NewTracing(c.cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		db, closeDB, err := app.OpenDB(c.cfg, tracing)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var hook string
		if err := conn.Raw(func(dc any) error {
			if tr := dc.(*stdlib.Conn).Conn().Config().Tracer; tr != nil {
				hook = reflect.TypeOf(tr).String()
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		_ = conn.Close()
		closeDB()
		stop()
		if (hook != "") != c.want {
			t.Errorf("tracing %s, the pool's statement hook is %q", c.name, hook)
		}
		t.Logf("statement hook, tracing %s: %q", c.name, hook)

		// The logger: the JSON handler itself when off.
		h := app.NewLogger(c.cfg, io.Discard).Handler()
		if _, plain := h.(*slog.JSONHandler); plain == c.want {
			t.Errorf("tracing %s, the log handler is a %T", c.name, h)
		}
		t.Logf("log handler, tracing %s: %T", c.name, h)
	}
}

// Tracing is off unless an endpoint is set, and OTEL_SDK_DISABLED turns it
// off again: what the bench's "off" server relies on.
func TestTracingIsOffUnlessAnEndpointIsSet(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "OTEL_") {
			t.Setenv(name, "") // restored at the end
			_ = os.Unsetenv(name)
		}
	}
	t.Setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused?sslmode=disable")
	t.Setenv("JWT_SECRET", "cost-test-secret-0123456789abcdef-0123!")
	t.Chdir(t.TempDir()) // no .env
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, false},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		cfg, err := app.LoadConfig()
		if err != nil {
			t.Fatal(err)
		}
		tracing, stop, err := app.NewTracing(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if tracing.On() != c.want {
			t.Errorf("with %v tracing on = %v, want %v", c.env, tracing.On(), c.want)
		}
		stop()
		for k := range c.env {
			_ = os.Unsetenv(k)
		}
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func serve(b *testing.B, h http.Handler, newRequest func() *http.Request, want int) {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest())
	if rec.Code != want {
		b.Fatalf("status %d %s, want %d", rec.Code, rec.Body, want)
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, newRequest())
	}
}

// noTracingCode is the router NewRouter builds, assembled here from the
// same exported middleware, in its order, with no tracing code: Gin, the
// metrics, the request id, the access log (JSON, as the app's), the
// security headers, recovery, the JSON check, and GET / as a system route.
// It allocates exactly what the app's router with tracing off does.
func noTracingCode(b testing.TB) *gin.Engine {
	b.Helper()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(nil); err != nil { // TRUSTED_PROXIES unset, as in the app's test configuration
		b.Fatal(err)
	}
	e.Use(controllers.NewHTTPMetrics().Middleware, controllers.RequestID, controllers.AccessLog(logger),
		controllers.SecurityHeaders, controllers.Recover(logger), controllers.RequireJSON)
	for _, rt := range controllers.HealthRoutes(nil) {
		if rt.Path == "/" {
			e.Handle(rt.Method, rt.Path, controllers.Plain(rt, logger))
		}
	}
	return e
}

// BenchmarkGetRoot is GET / (no database) through the router with no
// tracing code, the app's router with tracing off, and with tracing on.
func BenchmarkGetRoot(b *testing.B) {
	off := apitest.New(b)
	on := apitest.New(b, traced(b))
	gin.SetMode(gin.ReleaseMode) // apitest.New chose test mode
	bare := noTracingCode(b)     // TestTracingOffAddsNothing holds it to the app's chain
	get := func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }
	b.Run("no_tracing_code", func(b *testing.B) { serve(b, bare, get, http.StatusOK) })
	b.Run("tracing_off", func(b *testing.B) { serve(b, off.Engine, get, http.StatusOK) })
	b.Run("tracing_on", func(b *testing.B) { serve(b, on.Engine, get, http.StatusOK) })
}

// BenchmarkGetItem is a whole GET /items/{id}, the database included, with
// tracing off and on.
func BenchmarkGetItem(b *testing.B) {
	for _, c := range []struct {
		name   string
		change []func(*app.Config)
	}{{"tracing_off", nil}, {"tracing_on", []func(*app.Config){traced(b)}}} {
		b.Run(c.name, func(b *testing.B) {
			api := apitest.New(b, c.change...)
			ada := api.SignUp("ada@example.com", "Ada", "correct horse")
			res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Token: ada.Token, Body: `{"name":"Teapot","price_cents":1999}`})
			if res.Status != http.StatusCreated {
				b.Fatalf("POST /items: %d %s", res.Status, res.Body)
			}
			var item struct {
				ID int64 `json:"id"`
			}
			res.JSON(b, &item)
			gin.SetMode(gin.ReleaseMode)
			if item.ID == 0 {
				b.Fatalf("POST /items: no id in %s", res.Body)
			}
			path := "/items/" + strconv.FormatInt(item.ID, 10)
			serve(b, api.Engine, func() *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }, http.StatusOK)
		})
	}
}

// BenchmarkPoolWaitSpan is what repositories/data.go does when a statement
// finds every connection busy, the same calls on a request's context
// (values of its own, as a request's has): with tracing off the span is a
// no-op; on, it is recorded.
func BenchmarkPoolWaitSpan(b *testing.B) {
	type key struct{ int }
	request := context.Background()
	for i := range 4 {
		request = context.WithValue(request, key{i}, i)
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	tracedRequest, span := provider.Tracer("bench").Start(request, "GET /items/:id")
	defer span.End()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"tracing_off", request}, {"tracing_on", tracedRequest}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, span := trace.SpanFromContext(c.ctx).TracerProvider().Tracer("repositories").Start(c.ctx, "db.pool.wait")
				span.End()
			}
		})
	}
}
