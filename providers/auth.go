package providers

import (
	"github.com/google/wire"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// AuthSet is /auth: logins, sessions and the token checks behind every
// protected route.
var AuthSet = wire.NewSet(
	controllers.NewAuthController,
	services.NewAuthService,
	repositories.NewLoginFailureRepository,
	wire.Bind(new(services.LoginFailures), new(*repositories.LoginFailureRepository)),
	repositories.NewRefreshTokenRepository,
	wire.Bind(new(services.RefreshTokens), new(*repositories.RefreshTokenRepository)),
)
