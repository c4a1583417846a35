package providers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/google/wire"
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// RequestSet builds one request's scope: its unit of work (whose cleanup
// rolls back whatever was not committed and releases the connection), the
// caller's identity and a logger that carries the request id.
var RequestSet = wire.NewSet(
	wire.FieldsOf(new(*RequestDeps), "DB", "Slots", "Auth"),
	repositories.NewUnitOfWork,
	wire.Bind(new(controllers.UnitOfWork), new(*repositories.UnitOfWork)),
	NewCaller,
	NewRequestLogger,
	wire.Struct(new(controllers.RequestScope), "*"),
)

// RequestDeps are the app-level values the request scope is built from.
// The app builds them once; the request-scope injector takes them as its
// argument.
type RequestDeps struct {
	DB     *sqlx.DB
	Slots  *repositories.Slots
	Logger *slog.Logger
	Auth   *services.AuthService
}

// NewCaller is the identity behind the request's bearer token, verified
// lazily by the routes that need it.
func NewCaller(r *http.Request, auth *services.AuthService) *services.Caller {
	return services.NewCaller(auth, controllers.BearerToken(r))
}

// NewRequestLogger tags every line the request logs with its id. Most
// requests never log through it (the access log line is written elsewhere),
// so the tag is attached when a line is written: Logger.With would format it
// up front on every request, which was most of the request scope's cost.
func NewRequestLogger(r *http.Request, deps *RequestDeps) *slog.Logger {
	return slog.New(&requestIDHandler{next: deps.Logger.Handler(), id: controllers.RequestIDOf(r)})
}

// requestIDHandler writes exactly what next.WithAttrs(request_id) would,
// deferring that call until there is something to write.
type requestIDHandler struct {
	next slog.Handler
	id   string
}

func (h *requestIDHandler) tagged() slog.Handler {
	return h.next.WithAttrs([]slog.Attr{slog.String("request_id", h.id)})
}

func (h *requestIDHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.tagged().Handle(ctx, r)
}

func (h *requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.tagged().WithAttrs(attrs)
}

func (h *requestIDHandler) WithGroup(name string) slog.Handler {
	return h.tagged().WithGroup(name)
}
