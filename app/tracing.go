package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is OpenTelemetry tracing, set up from the standard OTEL_*
// variables: spans go by OTLP over HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). With neither set it is off, and off
// is free: no middleware, no statement hook, no log decoration is added.
type Tracing struct {
	provider   trace.TracerProvider // nil when off
	propagator propagation.TextMapPropagator
}

// flushTimeout bounds the export of the last spans at shutdown.
const flushTimeout = 5 * time.Second

// NewTracing starts the exporter when an endpoint is set. Its cleanup
// sends the spans still buffered. A provider set in Config (by a test)
// is used as it is.
func NewTracing(cfg Config, logger *slog.Logger) (*Tracing, func(), error) {
	t := &Tracing{propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
	if cfg.TracerProvider != nil {
		t.provider = cfg.TracerProvider
		return t, func() {}, nil
	}
	if !cfg.tracingOn() {
		return t, func() {}, nil
	}
	ctx := context.Background()
	var opts []otlptracehttp.Option
	if cfg.OTelEndpoint != "" && cfg.OTelTracesEndpoint == "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.OTelEndpoint, "/")+"/v1/traces"))
	}
	if cfg.OTelTracesEndpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(cfg.OTelTracesEndpoint))
	}
	exporter, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	sampler, err := parseSampler(cfg.OTelSampler, cfg.OTelSamplerArg)
	if err != nil {
		return nil, nil, err
	}
	// OTEL_RESOURCE_ATTRIBUTES, and the exporter's own OTEL_EXPORTER_OTLP_*
	// settings (headers, timeout, certificates), come from the process
	// environment, as every OpenTelemetry SDK reads them.
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", cfg.OTelServiceName)))
	if err == nil {
		res, err = resource.Merge(res, resourceFromEnv(ctx))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res), sdktrace.WithSampler(sampler))
	// The SDK reports an export that failed (a collector down, say) to one
	// handler for the whole process, which by default prints plain text on
	// stderr; it goes to the app's log instead.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing", slog.Any("error", err))
	}))
	t.provider = tp
	return t, func() {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		_ = tp.Shutdown(ctx) // the process is ending; spans that cannot be sent are lost either way
	}, nil
}

func resourceFromEnv(ctx context.Context) *resource.Resource {
	r, err := resource.New(ctx, resource.WithFromEnv())
	if err != nil {
		return resource.Empty()
	}
	return r
}

// On reports whether spans are recorded and exported. A nil Tracing is
// off: commands that serve nothing need none.
func (t *Tracing) On() bool { return t != nil && t.provider != nil }

// Middleware is the server span of each request, named by its route
// template, continuing the caller's W3C traceparent; its status follows the
// HTTP status. Nil when tracing is off.
func (t *Tracing) Middleware() gin.HandlerFunc {
	if !t.On() {
		return nil
	}
	// The server name, "", is the request's Host; the service is named by
	// the resource. Probes and scrapes are not traced: they would be most of
	// the spans and tell nothing.
	return otelgin.Middleware("", otelgin.WithTracerProvider(t.provider), otelgin.WithPropagators(t.propagator),
		otelgin.WithGinFilter(func(c *gin.Context) bool { return !untraced[c.FullPath()] }))
}

// untraced are the routes of probes and scrapes.
var untraced = map[string]bool{"/": true, "/healthz": true, "/readyz": true, "/metrics": true}

// DBTracer is the hook that makes a span of every statement the pool sends,
// with its text but never its arguments; nil when tracing is off.
func (t *Tracing) DBTracer() pgx.QueryTracer {
	if !t.On() {
		return nil
	}
	return otelpgx.NewTracer(otelpgx.WithTracerProvider(t.provider), otelpgx.WithDisableConnectionDetailsInAttributes())
}

// parseSampler reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG as the
// OpenTelemetry specification names them.
func parseSampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, errors.New("OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1")
		}
		ratio = r
	}
	switch name {
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_always_on", "":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio", name)
}
