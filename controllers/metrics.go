package controllers

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// MetricsPath is where Prometheus scrapes. It is not in the API documents:
// its answer is Prometheus text, not JSON.
const MetricsPath = "/metrics"

// UnmatchedRoute is the route label of every request that matched no route
// (404, 405): labelled by its raw path instead, a scanner trying random
// paths would create a series per path.
const UnmatchedRoute = "unmatched"

// HTTPMetrics counts and times requests by method, route template and
// status. It is a prometheus.Collector, registered by the app on a registry
// of its own.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge

	// series caches each label combination's counter and histogram, so a
	// request pays one map lookup and no allocation instead of two label
	// hashes and the variadic slices of WithLabelValues. The map is never
	// changed once published, only replaced by a copy with a series more
	// (they are few and stop appearing once every route has been asked),
	// so that readers on every core share no lock. mu serialises the copies.
	series atomic.Pointer[map[seriesKey]httpSeries]
	mu     sync.Mutex
}

type seriesKey struct {
	method string
	route  string
	status int
}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func NewHTTPMetrics() *HTTPMetrics {
	labels := []string{"method", "route", "status"}
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "Requests answered, by method, route template (" + UnmatchedRoute + " when none matched) and status.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time from the request reaching the router to its answer, by method, route template and status.",
			Buckets: prometheus.DefBuckets,
		}, labels),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "Requests being answered now.",
		}),
	}
	m.series.Store(&map[seriesKey]httpSeries{})
	return m
}

// Describe implements prometheus.Collector.
func (m *HTTPMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.duration.Describe(ch)
	m.inFlight.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *HTTPMetrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.duration.Collect(ch)
	m.inFlight.Collect(ch)
}

// Middleware records every request but the scrapes themselves, which
// promhttp counts apart (promhttp_metric_handler_requests_total), so that
// http_requests_total is the API's traffic only. It must be the outermost
// middleware, so the status it sees is the one sent, after Recover and
// Errors have answered a panic or a timeout. A handler that aborts the
// connection (http.ErrAbortHandler) sends no status and is not counted.
func (m *HTTPMetrics) Middleware(c *gin.Context) {
	route := c.FullPath()
	if route == MetricsPath {
		c.Next()
		return
	}
	if route == "" {
		route = UnmatchedRoute
	}
	start := time.Now()
	m.inFlight.Inc()
	defer m.inFlight.Dec()
	c.Next()
	s := m.seriesFor(seriesKey{method: methodLabel(c.Request.Method), route: route, status: c.Writer.Status()})
	s.requests.Inc()
	s.duration.Observe(time.Since(start).Seconds())
}

func (m *HTTPMetrics) seriesFor(k seriesKey) httpSeries {
	if s, ok := (*m.series.Load())[k]; ok {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *m.series.Load()
	if s, ok := cur[k]; ok {
		return s
	}
	status := strconv.Itoa(k.status)
	s := httpSeries{
		requests: m.requests.WithLabelValues(k.method, k.route, status),
		duration: m.duration.WithLabelValues(k.method, k.route, status),
	}
	next := maps.Clone(cur)
	next[k] = s
	m.series.Store(&next)
	return s
}

// methodLabel bounds the method label to the standard methods: any token is
// a valid method, and each would otherwise be a series of its own. The
// constants also keep the cache from holding on to a request's memory.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodConnect:
		return http.MethodConnect
	case http.MethodTrace:
		return http.MethodTrace
	default:
		return "other"
	}
}
