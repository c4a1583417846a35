package controllers

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/services"
)

// Route is one endpoint: its method and path, who may call it, and the
// handler that answers it. Each controller lists its routes in a table;
// the router mounts every table in one place (app.NewRouter), and `server
// routes` prints them.
type Route struct {
	Method string
	Path   string // in Gin's syntax: /items/:id
	Access Access
	Handle Handler
}

// Handler answers a request. An error it returns becomes the problem
// response that respondError chooses for it.
type Handler func(c *gin.Context) error

// HandlerName is the handler's function, without its package path:
// controllers.(*ItemController).Create.
func (rt Route) HandlerName() string {
	name := runtime.FuncForPC(reflect.ValueOf(rt.Handle).Pointer()).Name()
	name = strings.TrimSuffix(name, "-fm")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// Access says who may call a route.
type Access int

const (
	// Public routes answer anyone; a bearer token, if sent, is not read.
	Public Access = iota
	// Bearer routes answer any signed-in user: a valid token of a user who
	// still exists, checked before the handler runs, as it is for each
	// access below.
	Bearer
	// Admin routes answer admins only; anyone else gets 403.
	Admin
	// SelfOrAdmin routes act on the user in the path: the caller themselves,
	// or anyone for an admin; another user's id is 403 whether or not it
	// exists.
	SelfOrAdmin
	// OwnerOrAdmin routes act on a resource of the caller's, or on any for
	// an admin; a missing one is 404, someone else's 403.
	OwnerOrAdmin
)

// The rules are the services' (services.UserService, services.ItemService),
// which decide them with what they know of the resource. What the caller
// and the path alone decide is also checked before the handler, so that a
// caller who may not use a route learns nothing else of it, not even that
// their request was malformed: admin, and self-or-admin for a well-formed
// id. Tests hold the tables and the services together.

// allows is ErrForbidden when the caller may not use a route with this
// access whatever the request holds.
func (a Access) allows(c *gin.Context, caller services.Caller) error {
	switch {
	case caller.IsAdmin():
		return nil
	case a == Admin:
		return services.ErrForbidden
	case a == SelfOrAdmin:
		if id, err := strconv.ParseInt(c.Param("id"), 10, 64); err == nil && id > 0 && id != caller.UserID {
			return services.ErrForbidden
		}
	}
	return nil
}

func (a Access) String() string {
	switch a {
	case Public:
		return "public"
	case Bearer:
		return "bearer"
	case Admin:
		return "admin"
	case SelfOrAdmin:
		return "self-or-admin"
	case OwnerOrAdmin:
		return "owner-or-admin"
	}
	return "unknown"
}

// RequestScope is what lives for one request only: the request's database
// session and the caller. The Wire injector in wire.go builds it for each
// request to a controller's route; Serve runs its cleanup when the request
// ends, however it ends.
type RequestScope struct {
	Session Session
	Caller  services.Caller // the zero Caller on public routes
}

// Session is the request's share of the database: the statements made
// with its Context are bounded by the request's time on the database.
type Session interface {
	Context(ctx context.Context) context.Context
	Usage() (statements int64, spent time.Duration)
}

// NewRequestScope is the request-scope injector that Wire generates. It
// fails with services.ErrUnauthenticated when access needs a caller and the
// request's bearer token names none.
type NewRequestScope func(r *http.Request, access Access) (*RequestScope, func(), error)

type scopeKey struct{}

// Serve is a controller route's Gin handler: it builds the request scope,
// runs the handler with the scope in its context, answers the handler's
// error, and runs the scope's cleanup, like a Python `yield` dependency.
// The logger takes what goes wrong on the server's side.
func Serve(rt Route, newScope NewRequestScope, logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		scope, cleanup, err := newScope(c.Request, rt.Access)
		if err != nil {
			respondError(c, logger, err)
			return
		}
		defer cleanup()
		if err := rt.Access.allows(c, scope.Caller); err != nil {
			respondError(c, logger, err)
			return
		}
		ctx := context.WithValue(scope.Session.Context(c.Request.Context()), scopeKey{}, scope)
		c.Request = c.Request.WithContext(ctx)
		if err := rt.Handle(c); err != nil {
			respondError(c, logger, err)
		}
	}
}

// Plain is the Gin handler of a route that needs no request scope: health,
// metrics, documents.
func Plain(rt Route, logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := rt.Handle(c); err != nil {
			respondError(c, logger, err)
		}
	}
}

// scopeOf is the request's scope, or nil outside a controller's route.
func scopeOf(c *gin.Context) *RequestScope {
	s, _ := c.Request.Context().Value(scopeKey{}).(*RequestScope)
	return s
}

// callerOf is who is asking. On a Bearer route Serve has authenticated
// them before the handler runs.
func callerOf(c *gin.Context) services.Caller {
	return scopeOf(c).Caller
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
