package controllers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// readyTimeout bounds the database ping behind /readyz.
const readyTimeout = time.Second

// Status is the body of the health endpoints.
type Status struct {
	Status string `json:"status" example:"healthy"`
} //	@name	Status

// Healthy answers that the process is up. It touches no dependency, so a
// database outage never makes an orchestrator restart a healthy process.
//
//	@Summary	Liveness probe
//	@Tags		health
//	@Produce	json
//	@Success	200	{object}	Status
//	@Router		/ [get]
//	@Router		/healthz [get]
func Healthy(c *gin.Context) {
	c.JSON(http.StatusOK, Status{Status: "healthy"})
}

// Pinger is the one thing readiness needs from the database.
type Pinger interface {
	PingContext(ctx context.Context) error
}

// Ready answers whether the database responds within a second.
//
//	@Summary	Readiness probe
//	@Tags		health
//	@Produce	json
//	@Success	200	{object}	Status
//	@Failure	503	{object}	Problem
//	@Router		/readyz [get]
func Ready(db Pinger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			requestLogger(c).WarnContext(ctx, "readiness check failed", "error", err)
			writeProblem(c, http.StatusServiceUnavailable, "the database is not reachable", nil)
			return
		}
		c.JSON(http.StatusOK, Status{Status: "ready"})
	}
}
