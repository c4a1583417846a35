package controllers

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

// requestIDKey is RequestIDHeader in net/http's canonical form: indexing the
// header map with it skips the canonicalisation, and the allocation, that
// Header.Get and Header.Set would repeat on every request.
const requestIDKey = "X-Request-Id"

// RequestIDOf is the request's id, once RequestID has run.
func RequestIDOf(r *http.Request) string {
	if v := r.Header[requestIDKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// MergePatchContentType is a JSON Merge Patch (RFC 7396), which PATCH takes.
const MergePatchContentType = "application/merge-patch+json"

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// RequestID keeps the caller's X-Request-ID when it is sane (1 to 128 visible
// ASCII characters) and makes one up otherwise. The id is written back onto
// the request's own header, so everything later reads it from one place.
func RequestID(c *gin.Context) {
	id := RequestIDOf(c.Request)
	if !saneRequestID(id) {
		id = newRequestID()
		c.Request.Header[requestIDKey] = []string{id}
	}
	c.Writer.Header()[requestIDKey] = []string{id}
	c.Next()
}

func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// AccessLog writes one line per request once it is answered: what was
// asked (method, route template), by whom (client address, as
// TRUSTED_PROXIES lets it be known), the answer (status, bytes), how long
// it took and what it spent on the database. A 5xx is logged at error
// level, so that an alert on errors in the log sees it.
func AccessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs,
			slog.String("request_id", RequestIDOf(c.Request)),
			slog.String("method", c.Request.Method),
			slog.String("route", c.FullPath()),
			slog.Int("status", status),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("client", c.ClientIP()),
			slog.Duration("duration", time.Since(start)),
		)
		if scope := scopeOf(c); scope != nil {
			statements, spent := scope.Session.Usage()
			attrs = append(attrs, slog.Int64("db_statements", statements), slog.Duration("db_duration", spent))
		}
		level := slog.LevelInfo
		if status >= http.StatusInternalServerError {
			level = slog.LevelError
		}
		logger.LogAttrs(c.Request.Context(), level, "request", attrs...)
	}
}

// Recover turns a panic into a logged 500 problem. It sits outside the
// request scope, so the scope's cleanup has already run when it catches one.
func Recover(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler { //nolint:errorlint // a sentinel compared by identity, as net/http does
				panic(p)
			}
			logger.ErrorContext(c.Request.Context(), "panic",
				slog.String("request_id", c.Request.Header.Get(RequestIDHeader)),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			if !c.Writer.Written() {
				writeProblem(c, http.StatusInternalServerError, "internal server error", nil)
			}
		}()
		c.Next()
	}
}

// Content security policies. The API answers JSON only, so a browser that
// renders one of its responses must load and run nothing at all. The
// Swagger UI needs its own scripts and styles, its inline styles and data:
// images, and nothing from anywhere else.
const (
	APIContentSecurityPolicy     = "default-src 'none'; frame-ancestors 'none'"
	SwaggerContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'"
)

// SecurityHeaders sets the headers every response carries.
func SecurityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	csp := APIContentSecurityPolicy
	if strings.HasPrefix(c.Request.URL.Path, "/swagger/") {
		csp = SwaggerContentSecurityPolicy
	}
	h.Set("Content-Security-Policy", csp)
	c.Next()
}

// RequireJSON answers 415 to a POST, PUT or PATCH whose body is not JSON
// (for PATCH, JSON or a JSON Merge Patch) and
// limits every body to MaxBodyBytes: a declared length over the limit is
// refused at once, an undeclared one is cut off while being read.
// Requests that match no route are left to the 404 and 405 handlers.
func RequireJSON(c *gin.Context) {
	if c.FullPath() == "" {
		c.Next()
		return
	}
	switch c.Request.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		mediaType, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
		patch := c.Request.Method == http.MethodPatch && mediaType == MergePatchContentType
		if err != nil || (mediaType != "application/json" && !patch) {
			detail := "request body must be application/json"
			if c.Request.Method == http.MethodPatch {
				detail = "request body must be application/merge-patch+json or application/json"
			}
			writeProblem(c, http.StatusUnsupportedMediaType, detail, nil)
			return
		}
	}
	if c.Request.ContentLength > MaxBodyBytes {
		writeProblem(c, http.StatusRequestEntityTooLarge, "request body is larger than 1 MiB", nil)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
	c.Next()
}
