package controllers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// readyTimeout bounds the database ping behind /readyz.
const readyTimeout = time.Second

// Status is the body of the health endpoints.
//
//	@Description	The answer of a health probe.
type Status struct {
	// "healthy" from the liveness probes, "ready" from the readiness probe.
	Status string `json:"status" enums:"healthy,ready" example:"healthy"`
} //	@name	Status

// Healthy answers that the process is up. It touches no dependency, so a
// database outage never makes an orchestrator restart a healthy process.
//
//	@Summary		Liveness probe
//	@Description	Answers without touching the database.
//	@ID				getHealthz
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	Status
//	@Failure		500	{object}	Problem
//	@Router			/healthz [get]
func Healthy(c *gin.Context) error {
	c.JSON(http.StatusOK, Status{Status: "healthy"})
	return nil
}

// The root is the same handler as /healthz, for probes that only know "/".
// Swag gives one function's annotations one operationId, so the root's
// operation is declared on this alias to have an id of its own.
//
//	@Summary		Liveness probe at the root
//	@Description	The same answer as GET /healthz.
//	@ID				getRoot
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	Status
//	@Failure		500	{object}	Problem
//	@Router			/ [get]
var _ = Healthy

// Pinger is the one thing readiness needs from the database. A failed
// ping is services.ErrUnavailable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Ready answers whether the database responds within a second.
//
//	@Summary		Readiness probe
//	@Description	200 while the database answers a ping within a second, 503 otherwise.
//	@ID				getReadyz
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	Status
//	@Failure		500	{object}	Problem
//	@Failure		503	{object}	Problem
//	@Router			/readyz [get]
func Ready(db Pinger) Handler {
	return func(c *gin.Context) error {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
			return fmt.Errorf("readiness: %w", err)
		}
		c.JSON(http.StatusOK, Status{Status: "ready"})
		return nil
	}
}

// HealthRoutes are the probes. They need no request scope: liveness touches
// nothing, and readiness pings the pool directly, past the queue, so that a
// busy replica is not taken for a broken one.
func HealthRoutes(db Pinger) []Route {
	return []Route{
		{http.MethodGet, "/", Public, Healthy},
		{http.MethodGet, "/healthz", Public, Healthy},
		{http.MethodGet, "/readyz", Public, Ready(db)},
	}
}
