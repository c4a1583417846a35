package providers

import (
	"github.com/google/wire"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// UserSet is /users: controller, service and repository.
var UserSet = wire.NewSet(
	controllers.NewUserController,
	services.NewUserService,
	repositories.NewUserRepository,
	wire.Bind(new(services.UserStore), new(*repositories.UserRepository)),
	wire.Bind(new(services.CredentialStore), new(*repositories.UserRepository)),
)
