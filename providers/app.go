// Package providers holds the Wire provider sets, one per level of the
// dependency graph, read top to bottom: the app (built once), the
// controllers (one set per resource, also built once) and the request
// scope (built for every request).
package providers

import (
	"github.com/google/wire"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// AppSet builds the process: logger, pool (closed by its cleanup), the
// password hashing workers, metrics, routes, router, server and the metrics
// listener METRICS_ADDR may ask for. The config and the log's destination
// are injector arguments, given by main (or a test).
var AppSet = wire.NewSet(
	app.NewLogger,
	app.NewTracing,
	app.OpenDB,
	app.NewData,
	// Data runs the transactions services ask for.
	wire.Bind(new(services.Transactor), new(*repositories.Data)),
	app.NewAuthConfig,
	services.NewPasswordHasher,
	app.NewSessionMetrics,
	wire.Bind(new(repositories.SessionObserver), new(*app.SessionMetrics)),
	app.NewMetrics,
	app.NewRoutes,
	app.NewRouter,
	app.NewServer,
	app.NewMetricsServer,
	app.New,
	wire.Struct(new(RequestDeps), "*"),
)
