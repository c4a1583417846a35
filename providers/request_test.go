package providers_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/providers"
)

// The request logger defers its request_id tag to the moment a line is
// written; what it writes must be byte for byte what Logger.With writes.
func TestRequestLoggerWritesWhatWithWould(t *testing.T) {
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(controllers.RequestIDHeader, "req-42")
	for _, format := range []string{"json", "text"} {
		var got, want bytes.Buffer
		newLogger := func(buf *bytes.Buffer) *slog.Logger {
			opts := &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: noTime}
			if format == "text" {
				return slog.New(slog.NewTextHandler(buf, opts))
			}
			return slog.New(slog.NewJSONHandler(buf, opts))
		}
		lazy := providers.NewRequestLogger(r, &providers.RequestDeps{Logger: newLogger(&got)})
		eager := newLogger(&want).With(slog.String("request_id", "req-42"))
		for _, l := range []*slog.Logger{lazy, eager} {
			l.ErrorContext(context.Background(), "request failed", slog.String("path", "/items"))
			l.Debug("below the level: not written")
			l.With("component", "db").WithGroup("query").Warn("slow", slog.Int("ms", 12))
		}
		if got.String() != want.String() {
			t.Errorf("%s:\n got: %s\nwant: %s", format, got.String(), want.String())
		}
		if !bytes.Contains(got.Bytes(), []byte("req-42")) {
			t.Errorf("%s: no request id in %s", format, got.String())
		}
	}
}
