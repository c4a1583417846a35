package app

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
)

// Metrics is what GET /metrics reports: the requests, the database pool, the
// Go runtime and the process. Its registry is the app's own, not
// client_golang's global default, so that every App (each test builds
// several) counts only its own requests.
type Metrics struct {
	registry *prometheus.Registry
	http     *controllers.HTTPMetrics
	handler  http.Handler
}

func NewMetrics(cfg Config, logger *slog.Logger, db *sqlx.DB, slots *repositories.Slots) (*Metrics, error) {
	pgxCfg, err := pgxConfig(cfg)
	if err != nil {
		return nil, err
	}
	m := &Metrics{registry: prometheus.NewRegistry(), http: controllers.NewHTTPMetrics()}
	cs := []prometheus.Collector{
		m.http,
		// go_sql_*: open, in use, idle, waits and time waited; the one
		// place a saturated pool shows before latency does.
		collectors.NewDBStatsCollector(db.DB, pgxCfg.Database),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if slots != nil {
		// Requests queue for a connection in the slots, in front of
		// database/sql, whose go_sql_wait_* then stay at zero: these are the
		// pool's real waits.
		dbLabel := prometheus.Labels{"db_name": pgxCfg.Database}
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "db_pool_slot_waits_total",
				Help:        "Requests that found every pool connection busy and queued for one, first come, first served.",
				ConstLabels: dbLabel,
			}, func() float64 { n, _ := slots.Waits(); return float64(n) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "db_pool_slot_wait_seconds_total",
				Help:        "Time requests spent queued for a pool connection.",
				ConstLabels: dbLabel,
			}, func() float64 { _, d := slots.Waits(); return d.Seconds() }),
		)
	}
	for _, c := range cs {
		if err := m.registry.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	// A collector that fails leaves the others' series in the answer, and
	// says why in the log, rather than failing the whole scrape.
	m.handler = promhttp.InstrumentMetricHandler(m.registry, promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.registry,
	}))
	return m, nil
}

// Handler answers a scrape, in Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// MetricsServer serves GET /metrics on METRICS_ADDR, apart from the API. It
// is nil when METRICS_ADDR is empty: /metrics is then on the router.
type MetricsServer struct {
	server *http.Server
}

func NewMetricsServer(cfg Config, m *Metrics) *MetricsServer {
	if cfg.MetricsAddr == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+controllers.MetricsPath, m.Handler())
	return &MetricsServer{server: newHTTPServer(cfg, cfg.MetricsAddr, mux)}
}
