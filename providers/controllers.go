package providers

import (
	"github.com/google/wire"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// ControllerSet is every resource. Adding one is a new set here and a new
// parameter of Controllers. cmd/resource inserts generated resources above
// the "resource:" marker comments, so keep those where they are.
var ControllerSet = wire.NewSet(
	SharedSet,
	AuthSet,
	UserSet,
	ItemSet,
	// resource:sets
	Controllers,
)

// SharedSet is what several resources use: request binding, list cursors,
// and idempotency keys for the POSTs that take one.
var SharedSet = wire.NewSet(
	controllers.NewBinder,
	controllers.NewCursors,
	services.NewIdempotencyService,
	repositories.NewIdempotencyRepository,
	wire.Bind(new(services.IdempotencyStore), new(*repositories.IdempotencyRepository)),
)

// Controllers lists the controllers the router mounts, in order.
func Controllers(
	auth *controllers.AuthController,
	users *controllers.UserController,
	items *controllers.ItemController,
	// resource:params
) []app.Controller {
	return []app.Controller{
		auth, users, items,
		// resource:list
	}
}
