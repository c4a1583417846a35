package app

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/rs/cors"

	"github.com/example/apitemplate/controllers"
)

// Controller is a resource's set of routes.
type Controller interface {
	Register(r gin.IRouter)
}

// NewRouter builds the Gin engine: middleware, the health and docs routes,
// and every controller. Middleware order matters and reads outside in: the
// request id first so everything can log it, recovery outside the request
// scope so the scope's cleanup runs before a panic is answered.
func NewRouter(cfg Config, logger *slog.Logger, db *sqlx.DB, newScope controllers.NewRequestScope, ctls []Controller) (*gin.Engine, error) {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}

	r.Use(controllers.RequestID, controllers.AccessLog(logger), controllers.SecurityHeaders)
	if len(cfg.CORSAllowOrigins) > 0 {
		r.Use(corsMiddleware(cfg.CORSAllowOrigins))
	}
	r.Use(controllers.Errors, controllers.Recover(logger), controllers.RequireJSON, controllers.Scoped(newScope))
	r.NoRoute(controllers.NoRoute)
	r.NoMethod(controllers.NoMethod)

	r.GET("/", controllers.Healthy)
	r.GET("/healthz", controllers.Healthy)
	r.GET("/readyz", controllers.Ready(db))
	if cfg.DocsEnabled {
		controllers.RegisterDocs(r)
	}
	for _, ctl := range ctls {
		ctl.Register(r)
	}
	return r, nil
}

func corsMiddleware(origins []string) gin.HandlerFunc {
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions},
		AllowedHeaders: []string{"Authorization", "Content-Type", controllers.RequestIDHeader},
		ExposedHeaders: []string{controllers.RequestIDHeader, "Location", "Retry-After", "WWW-Authenticate"},
		MaxAge:         600,
	})
	// HandlerFunc answers a preflight itself (204); the chain stops there.
	return func(ctx *gin.Context) {
		c.HandlerFunc(ctx.Writer, ctx.Request)
		if ctx.Request.Method == http.MethodOptions && ctx.GetHeader("Access-Control-Request-Method") != "" {
			ctx.Abort()
		}
	}
}
