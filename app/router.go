package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/rs/cors"

	"github.com/example/apitemplate/controllers"
)

// Controller is a resource's set of routes.
type Controller interface {
	Register(r gin.IRouter)
}

// NewRouter builds the Gin engine: middleware, the health, metrics and docs
// routes, and every controller. Middleware order matters and reads outside
// in: metrics first so they time everything and see the status actually
// sent, the request id next so everything can log it, recovery outside the
// request scope so the scope's cleanup runs before a panic is answered.
func NewRouter(cfg Config, logger *slog.Logger, db *sqlx.DB, metrics *Metrics, newScope controllers.NewRequestScope, ctls []Controller) (*gin.Engine, error) {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}

	r.Use(metrics.http.Middleware, controllers.RequestID, controllers.AccessLog(logger), controllers.SecurityHeaders)
	if len(cfg.CORSAllowOrigins) > 0 {
		r.Use(corsMiddleware(cfg.CORSAllowOrigins))
	}
	r.Use(controllers.Errors, controllers.Recover(logger), controllers.RequireJSON, controllers.QueryTimeout(cfg.DBQueryTimeout), controllers.Scoped(newScope))
	r.NoRoute(controllers.NoRoute)
	r.NoMethod(controllers.NoMethod)

	r.GET("/", controllers.Healthy)
	r.GET("/healthz", controllers.Healthy)
	r.GET("/readyz", controllers.Ready(db))
	if cfg.MetricsAddr == "" {
		r.GET(controllers.MetricsPath, gin.WrapH(metrics.Handler()))
	}
	if cfg.DocsEnabled {
		controllers.RegisterDocs(r)
	}
	for _, ctl := range ctls {
		ctl.Register(r)
	}
	return r, nil
}

var (
	corsMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions}
	corsHeaders = []string{"Authorization", "Content-Type", controllers.RequestIDHeader}
)

func corsMiddleware(origins []string) gin.HandlerFunc {
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: corsMethods,
		AllowedHeaders: corsHeaders,
		ExposedHeaders: []string{controllers.RequestIDHeader, "Location", "Retry-After", "WWW-Authenticate"},
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
