// Package controllers is the HTTP layer: Gin handlers that bind and validate
// requests, call services and write responses, plus the middleware around
// them. Errors become RFC 9457 problem details here, and only here.
package controllers

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/services"
)

// ProblemContentType is the media type of every error response.
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem details body.
//
//	@Description	An RFC 9457 problem details body, sent as application/problem+json with every 4xx and 5xx response.
type Problem struct {
	// Always about:blank: the status says what kind of problem it is.
	Type string `json:"type" example:"about:blank"`
	// The HTTP status text.
	Title string `json:"title" example:"Bad Request"`
	// The HTTP status code, repeated.
	Status int `json:"status" minimum:"100" maximum:"599" format:"int32" example:"400"`
	// A sentence for people; a 500 says only "internal server error".
	Detail string `json:"detail" example:"request body failed validation"`
	// The path of the request.
	Instance string `json:"instance" example:"/users"`
	// Only on validation failures (400): one entry per failing field.
	Errors []FieldError `json:"errors,omitempty" extensions:"x-optional"`
} //	@name	Problem

// FieldError names one field that failed validation, by its JSON name.
//
//	@Description	One field that failed validation.
type FieldError struct {
	// The JSON name of a body field, query parameter or path parameter.
	Field string `json:"field" example:"email"`
	// Which rule the value broke, in words.
	Message string `json:"message" example:"must be a valid email address"`
} //	@name	FieldError

// ValidationError is a request that parsed but broke the rules of its fields.
type ValidationError struct {
	Detail string
	Errors []FieldError
}

func (e *ValidationError) Error() string { return e.Detail }

// BadRequestError is a request that could not be read at all.
type BadRequestError struct {
	Detail string
}

func (e *BadRequestError) Error() string { return e.Detail }

// statusError is a response decided by the HTTP layer itself (404, 405, 415…).
type statusError struct {
	status int
	detail string
}

func (e *statusError) Error() string { return e.detail }

// writeProblem sends a problem response and stops the handler chain. Gin keeps
// a Content-Type that is already set, so the body goes out as problem+json.
func writeProblem(c *gin.Context, status int, detail string, fields []FieldError) {
	c.Header("Content-Type", ProblemContentType)
	c.AbortWithStatusJSON(status, Problem{
		Type:     "about:blank",
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   detail,
		Instance: c.Request.URL.Path,
		Errors:   fields,
	})
}

// respondError answers err with its problem. It is the one place where
// domain errors meet status codes. What is the server's fault goes to the
// log, with the request id, and not to the client.
func respondError(c *gin.Context, logger *slog.Logger, err error) {
	var (
		validation *ValidationError
		badRequest *BadRequestError
		status     *statusError
		conflict   *services.ConflictError
		throttled  *services.ThrottledError
		busy       *services.BusyError
		tooLarge   *http.MaxBytesError
	)
	switch {
	case errors.As(err, &validation):
		writeProblem(c, http.StatusBadRequest, validation.Detail, validation.Errors)
	case errors.As(err, &badRequest):
		writeProblem(c, http.StatusBadRequest, badRequest.Detail, nil)
	case errors.As(err, &status):
		writeProblem(c, status.status, status.detail, nil)
	case errors.As(err, &tooLarge):
		writeProblem(c, http.StatusRequestEntityTooLarge, "request body is larger than 1 MiB", nil)
	case errors.Is(err, services.ErrNotFound):
		writeProblem(c, http.StatusNotFound, "the requested resource does not exist", nil)
	case errors.As(err, &conflict):
		writeProblem(c, http.StatusConflict, conflict.Error(), nil)
	case errors.Is(err, services.ErrInvalidCredentials):
		writeProblem(c, http.StatusUnauthorized, "invalid email or password", nil)
	case errors.Is(err, services.ErrUnauthenticated):
		c.Header("WWW-Authenticate", "Bearer")
		writeProblem(c, http.StatusUnauthorized, "a valid bearer token is required", nil)
	case errors.Is(err, services.ErrForbidden):
		writeProblem(c, http.StatusForbidden, "you may not do this to this resource", nil)
	case errors.Is(err, services.ErrPreconditionFailed):
		writeProblem(c, http.StatusPreconditionFailed, "the resource has changed since the version If-Match names", nil)
	case errors.Is(err, services.ErrIdempotencyInFlight):
		writeProblem(c, http.StatusConflict, "a request with this Idempotency-Key is still being processed; retry when it has finished", nil)
	case errors.Is(err, services.ErrIdempotencyMismatch):
		writeProblem(c, http.StatusUnprocessableEntity, "this Idempotency-Key was used for a different request", nil)
	case errors.As(err, &throttled):
		c.Header("Retry-After", seconds(throttled.RetryAfter))
		writeProblem(c, http.StatusTooManyRequests, "too many failed login attempts; try again later", nil)
	case errors.As(err, &busy):
		logRequest(c, logger, slog.LevelWarn, "server busy", err)
		c.Header("Retry-After", seconds(busy.RetryAfter))
		writeProblem(c, http.StatusServiceUnavailable, "the server is busy", nil)
	case errors.Is(err, services.ErrUnavailable):
		logRequest(c, logger, slog.LevelWarn, "database unavailable", err)
		c.Header("Retry-After", seconds(unavailableRetry))
		writeProblem(c, http.StatusServiceUnavailable, "the database is not reachable", nil)
	case c.Request.Context().Err() != nil:
		// The client hung up: nobody reads the answer, and nothing failed.
		logRequest(c, logger, slog.LevelInfo, "client went away", err)
		c.AbortWithStatus(statusClientClosedRequest)
	default:
		logRequest(c, logger, slog.LevelError, "request failed", err)
		writeProblem(c, http.StatusInternalServerError, "internal server error", nil)
	}
}

// unavailableRetry is what a 503 for the database suggests: a moment, for
// a pool to reconnect or a failover to finish.
const unavailableRetry = 2 * time.Second

// statusClientClosedRequest is nginx's name for an answer nobody read; it
// shows in the access log and the metrics, never to a client.
const statusClientClosedRequest = 499

func logRequest(c *gin.Context, logger *slog.Logger, level slog.Level, msg string, err error) {
	logger.LogAttrs(c.Request.Context(), level, msg,
		slog.String("request_id", RequestIDOf(c.Request)),
		slog.String("method", c.Request.Method), slog.String("path", c.Request.URL.Path), slog.Any("error", err))
}

// seconds is a Retry-After value: whole seconds, rounded up.
func seconds(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}

// NoRoute answers requests that match no route.
func NoRoute(c *gin.Context) {
	writeProblem(c, http.StatusNotFound, "no route matches "+c.Request.URL.Path, nil)
}

// NoMethod answers a known path asked with the wrong method; Gin has already
// set the Allow header.
func NoMethod(c *gin.Context) {
	writeProblem(c, http.StatusMethodNotAllowed, "method "+c.Request.Method+" is not allowed on "+c.Request.URL.Path, nil)
}
