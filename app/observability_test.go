package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestParseSampler(t *testing.T) {
	for _, tt := range []struct {
		name, arg string
		ok        bool
	}{
		{"", "", true}, {"always_on", "", true}, {"always_off", "", true}, {"traceidratio", "0.25", true},
		{"parentbased_always_on", "", true}, {"parentbased_always_off", "", true}, {"parentbased_traceidratio", "1", true},
		{"traceidratio", "2", false}, {"traceidratio", "half", false}, {"sometimes", "", false},
	} {
		if _, err := parseSampler(tt.name, tt.arg); (err == nil) != tt.ok {
			t.Errorf("parseSampler(%q, %q) = %v, want ok %v", tt.name, tt.arg, err, tt.ok)
		}
	}
}

// With tracing on, a line logged within a traced request names its trace
// and span; without a span, or with tracing off, it has neither.
func TestLogLinesCarryTheTrace(t *testing.T) {
	provider := sdktrace.NewTracerProvider()
	ctx, span := provider.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	for _, tt := range []struct {
		name  string
		cfg   Config
		ctx   context.Context
		wants bool
	}{
		{"tracing on, in a span", Config{LogFormat: "json", TracerProvider: provider}, ctx, true},
		{"tracing on, no span", Config{LogFormat: "json", TracerProvider: provider}, context.Background(), false},
		{"tracing off", Config{LogFormat: "json"}, ctx, false},
		{"text, tracing on", Config{LogFormat: "text", OTelEndpoint: "http://127.0.0.1:4318"}, ctx, true},
	} {
		var out bytes.Buffer
		NewLogger(tt.cfg, &out).With("component", "x").InfoContext(tt.ctx, "request", slog.Int("status", 200))
		has := strings.Contains(out.String(), span.SpanContext().TraceID().String()) && strings.Contains(out.String(), span.SpanContext().SpanID().String())
		if has != tt.wants {
			t.Errorf("%s: %s", tt.name, out.String())
		}
	}
}

// Profiles are served on the metrics listener when asked for, and never
// otherwise.
func TestPprofOnlyOnTheMetricsListener(t *testing.T) {
	for _, tt := range []struct {
		enabled bool
		want    int
	}{{true, http.StatusOK}, {false, http.StatusNotFound}} {
		cfg := Config{MetricsAddr: "127.0.0.1:0", PprofEnabled: tt.enabled}
		s := NewMetricsServer(cfg, &Metrics{handler: http.NotFoundHandler()})
		w := httptest.NewRecorder()
		s.server.Handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
		if w.Code != tt.want {
			t.Errorf("PPROF_ENABLED=%v: GET /debug/pprof/ = %d, want %d", tt.enabled, w.Code, tt.want)
		}
	}
}
