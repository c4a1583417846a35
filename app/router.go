package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/rs/cors"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
)

// Controller is a resource's table of routes.
type Controller interface {
	Routes() []controllers.Route
}

// Routes is every route the server answers, as their tables declare them.
type Routes struct {
	// System routes (probes, metrics, documents) run without a request
	// scope; they touch no repository.
	System []controllers.Route
	// The controllers' routes, each run in a request scope.
	Resources []controllers.Route
}

// All lists the system routes, then the controllers'.
func (r Routes) All() []controllers.Route {
	return append(slices.Clip(r.System), r.Resources...)
}

// NewRoutes collects the route tables that cfg turns on.
func NewRoutes(cfg Config, data *repositories.Data, metrics *Metrics, ctls []Controller) Routes {
	var r Routes
	r.System = append(r.System, controllers.HealthRoutes(data)...)
	if cfg.MetricsAddr == "" {
		r.System = append(r.System, metrics.Route())
	}
	if cfg.DocsEnabled {
		r.System = append(r.System, controllers.DocsRoutes()...)
	}
	for _, ctl := range ctls {
		r.Resources = append(r.Resources, ctl.Routes()...)
	}
	return r
}

// NewRouter builds the Gin engine: the middleware, then every route.
// Middleware order matters and reads outside in: metrics first so they time
// everything and see the status actually sent, the request id next so
// everything can log it, then the trace span (when tracing is on), and
// recovery last so that a panic in a handler is caught after the request
// scope's cleanup has run.
func NewRouter(cfg Config, logger *slog.Logger, routes Routes, metrics *Metrics, tracing *Tracing, newScope controllers.NewRequestScope) (*gin.Engine, error) {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}

	r.Use(metrics.http.Middleware, controllers.RequestID)
	if span := tracing.Middleware(); span != nil {
		r.Use(span) // outside the access log, whose line then carries the trace id
	}
	r.Use(controllers.AccessLog(logger), controllers.SecurityHeaders)
	if len(cfg.CORSAllowOrigins) > 0 {
		r.Use(corsMiddleware(cfg.CORSAllowOrigins))
	}
	r.Use(controllers.Recover(logger), controllers.RequireJSON)
	r.NoRoute(controllers.NoRoute)
	r.NoMethod(controllers.NoMethod)

	for _, rt := range routes.System {
		r.Handle(rt.Method, rt.Path, controllers.Plain(rt, logger))
	}
	for _, rt := range routes.Resources {
		r.Handle(rt.Method, rt.Path, controllers.Serve(rt, newScope, logger))
	}
	return r, nil
}

var (
	corsMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
	corsHeaders = []string{"Authorization", "Content-Type", controllers.RequestIDHeader, "If-Match", "If-None-Match", controllers.IdempotencyKeyHeader}
	// What a browser script may read of an answer besides the simple headers.
	corsExposed = []string{controllers.RequestIDHeader, "ETag", "Location", "Retry-After", "WWW-Authenticate", "Idempotent-Replayed"}
)

func corsMiddleware(origins []string) gin.HandlerFunc {
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: corsMethods,
		AllowedHeaders: corsHeaders,
		ExposedHeaders: corsExposed,
		MaxAge:         600,
	})
	return func(ctx *gin.Context) {
		preflight := ctx.Request.Method == http.MethodOptions && ctx.GetHeader("Access-Control-Request-Method") != ""
		if !preflight {
			c.HandlerFunc(ctx.Writer, ctx.Request)
			return
		}
		// rs/cors matches requested headers only in the form browsers send
		// them (lower-case, sorted); other clients' spelling is as valid.
		if requested := ctx.GetHeader("Access-Control-Request-Headers"); requested != "" {
			ctx.Request.Header.Set("Access-Control-Request-Headers", canonicalHeaderList(requested))
		}
		c.HandlerFunc(ctx.Writer, ctx.Request) // answers 204
		// Answer with the whole policy, not only the part that was asked
		// about, so a client can learn it from one preflight.
		if ctx.Writer.Header().Get("Access-Control-Allow-Origin") != "" {
			ctx.Header("Access-Control-Allow-Methods", strings.Join(corsMethods, ", "))
			ctx.Header("Access-Control-Allow-Headers", strings.Join(corsHeaders, ", "))
		}
		ctx.Abort()
	}
}

func canonicalHeaderList(list string) string {
	names := strings.Split(strings.ToLower(list), ",")
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}
