package controllers

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/services"
)

// RequestScope is what lives for one request only. A Wire injector builds it
// for every request (see wire.go); its cleanup runs when the request ends.
type RequestScope struct {
	Logger *slog.Logger
	Caller *services.Caller
	Work   UnitOfWork
}

// UnitOfWork is the request's share of the database. Attach puts it in the
// context that services pass down to repositories.
type UnitOfWork interface {
	Attach(ctx context.Context) context.Context
}

// NewRequestScope is the generated request-scope injector.
type NewRequestScope func(r *http.Request) (*RequestScope, func(), error)

type scopeKey struct{}

// Scoped builds the request scope before the handler and runs its cleanup
// after, like a Python `yield` dependency. The deferred cleanup runs whether
// the handler returns, fails or panics.
func Scoped(newScope NewRequestScope) gin.HandlerFunc {
	return func(c *gin.Context) {
		scope, cleanup, err := newScope(c.Request)
		if err != nil {
			_ = c.Error(err)
			c.Abort()
			return
		}
		defer cleanup()
		ctx := context.WithValue(scope.Work.Attach(c.Request.Context()), scopeKey{}, scope)
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// scopeOf returns the request's scope. Routes are always mounted behind
// Scoped, so it is there.
func scopeOf(c *gin.Context) *RequestScope {
	return c.Request.Context().Value(scopeKey{}).(*RequestScope)
}

// requestLogger is the request's logger when the scope is built, and the
// default logger before that (a failure in the outer middleware).
func requestLogger(c *gin.Context) *slog.Logger {
	if scope, ok := c.Request.Context().Value(scopeKey{}).(*RequestScope); ok {
		return scope.Logger
	}
	return slog.Default()
}

// RequireAuth lets a request through only with a valid bearer token of a
// user who still exists.
func RequireAuth(c *gin.Context) {
	if _, err := scopeOf(c).Caller.UserID(c.Request.Context()); err != nil {
		_ = c.Error(err)
		c.Abort()
	}
}

// callerID is the authenticated caller; RequireAuth has already verified it,
// so this costs nothing.
func callerID(c *gin.Context) int64 {
	id, _ := scopeOf(c).Caller.UserID(c.Request.Context())
	return id
}

// BearerToken extracts the token from an "Authorization: Bearer …" header.
func BearerToken(r *http.Request) string {
	const prefix = "bearer "
	h := r.Header.Get("Authorization")
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return h[len(prefix):]
	}
	return ""
}
