package providers

import (
	"github.com/google/wire"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// ControllerSet is every resource. Adding one is a new set here and a new
// parameter of Controllers.
var ControllerSet = wire.NewSet(
	SharedSet,
	AuthSet,
	UserSet,
	ItemSet,
	Controllers,
)

// SharedSet is what several resources use.
var SharedSet = wire.NewSet(
	controllers.NewBinder,
	repositories.NewTransactor,
	wire.Bind(new(services.Transactor), new(*repositories.Transactor)),
)

// Controllers lists the controllers the router mounts, in order.
func Controllers(
	auth *controllers.AuthController,
	users *controllers.UserController,
	items *controllers.ItemController,
) []app.Controller {
	return []app.Controller{auth, users, items}
}
