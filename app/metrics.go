package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
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

// SessionMetrics are what each request spent on the database: how many
// statements (a jump shows an N+1 query on some route) and how long.
type SessionMetrics struct {
	statements prometheus.Histogram
	seconds    prometheus.Histogram
}

func NewSessionMetrics() *SessionMetrics {
	return &SessionMetrics{
		statements: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "db_request_statements",
			Help:    "Statements and transactions one request to a controller's route sent to the database.",
			Buckets: []float64{0, 1, 2, 3, 5, 8, 13, 21},
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "db_request_seconds",
			Help:    "Time one request to a controller's route spent on the database: queued for a connection, running statements, in a transaction.",
			Buckets: prometheus.DefBuckets,
		}),
	}
}

// ObserveSession implements repositories.SessionObserver.
func (m *SessionMetrics) ObserveSession(statements int64, spent time.Duration) {
	m.statements.Observe(float64(statements))
	m.seconds.Observe(spent.Seconds())
}

func NewMetrics(cfg Config, logger *slog.Logger, db *sqlx.DB, data *repositories.Data, sessions *SessionMetrics, hasher *services.PasswordHasher) (*Metrics, error) {
	pgxCfg, err := pgxConfig(cfg)
	if err != nil {
		return nil, err
	}
	m := &Metrics{registry: prometheus.NewRegistry(), http: controllers.NewHTTPMetrics()}
	cs := []prometheus.Collector{
		m.http,
		sessions.statements,
		sessions.seconds,
		// go_sql_*: open, in use, idle, waits and time waited; the one
		// place a saturated pool shows before latency does.
		collectors.NewDBStatsCollector(db.DB, pgxCfg.Database),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	// Statements queue for a connection in Data, in front of database/sql,
	// whose go_sql_wait_* then stay at zero: these are the pool's real waits.
	dbLabel := prometheus.Labels{"db_name": pgxCfg.Database}
	cs = append(cs,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "db_pool_queue_waits_total",
			Help:        "Statements and transactions that found every pool connection busy and queued for one, first come, first served.",
			ConstLabels: dbLabel,
		}, func() float64 { n, _ := data.Waits(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "db_pool_queue_wait_seconds_total",
			Help:        "Time spent queued for a pool connection.",
			ConstLabels: dbLabel,
		}, func() float64 { _, d := data.Waits(); return d.Seconds() }),
	)
	hashStat := func(f func(services.HasherStats) float64) func() float64 {
		return func() float64 { return f(hasher.Stats()) }
	}
	cs = append(cs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "password_hash_workers",
			Help: "Passwords that may be hashed at once (HASH_WORKERS).",
		}, hashStat(func(s services.HasherStats) float64 { return float64(s.Workers) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "password_hash_workers_busy",
			Help: "Passwords being hashed or checked now.",
		}, hashStat(func(s services.HasherStats) float64 { return float64(s.Busy) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "password_hash_queued",
			Help: "Requests waiting for a hashing worker now.",
		}, hashStat(func(s services.HasherStats) float64 { return float64(s.Queued) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "password_hashes_total",
			Help: "Passwords hashed or checked.",
		}, hashStat(func(s services.HasherStats) float64 { return float64(s.Done) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "password_hash_waits_total",
			Help: "Requests that found every hashing worker busy and queued.",
		}, hashStat(func(s services.HasherStats) float64 { return float64(s.Waits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "password_hash_wait_seconds_total",
			Help: "Time requests spent queued for a hashing worker.",
		}, hashStat(func(s services.HasherStats) float64 { return s.Waited.Seconds() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "password_hash_rejections_total",
			Help: "Requests that got no hashing worker within HASH_QUEUE_TIMEOUT and were answered 503.",
		}, hashStat(func(s services.HasherStats) float64 { return float64(s.Rejected) })),
	)
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

// Route is GET /metrics on the API's own router.
func (m *Metrics) Route() controllers.Route {
	return controllers.Route{Method: http.MethodGet, Path: controllers.MetricsPath, Access: controllers.Public, Handle: func(c *gin.Context) error {
		m.handler.ServeHTTP(c.Writer, c.Request)
		return nil
	}}
}

// pprofWriteTimeout leaves room for a CPU profile of the default 30 seconds,
// which pprof refuses when the server would cut it off.
const pprofWriteTimeout = 60 * time.Second

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
	if cfg.PprofEnabled {
		// Profiles show what the process is doing, and can cost it CPU: on
		// the scraper's network only, and only when asked for.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	server := newHTTPServer(cfg, cfg.MetricsAddr, mux)
	if cfg.PprofEnabled {
		server.WriteTimeout = pprofWriteTimeout
	}
	return &MetricsServer{server: server}
}
