// Package providers holds the Wire provider sets, one per layer of the
// dependency graph, read top to bottom: the app, the controllers (one set per
// resource) and the request scope.
package providers

import (
	"github.com/google/wire"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/repositories"
)

// AppSet builds the process: logger, pool (closed by its cleanup), router,
// server and the metrics listener METRICS_ADDR may ask for. The config and
// the log's destination are injector arguments, given by main (or a test).
var AppSet = wire.NewSet(
	RouterSet,
	app.OpenDB,
	app.NewServer,
	app.NewMetricsServer,
	app.New,
)

// RouterSet is what the router needs but the pool: InitializeApp adds a
// connected one, InitializeRouter one that never connects, so the routes
// can be listed with no database.
var RouterSet = wire.NewSet(
	app.NewLogger,
	app.NewAuthConfig,
	app.NewMetrics,
	app.NewRouter,
	repositories.NewSlots,
	wire.Struct(new(RequestDeps), "*"),
)
