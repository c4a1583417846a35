package controllers_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/internal/apitest"
	"github.com/example/apitemplate/services"
)

// scrape is one /metrics answer as series -> value, a series written as the
// text format writes it: name{label="value",...}, labels sorted by name.
type scrape map[string]float64

func parseScrape(t *testing.T, body []byte) scrape {
	t.Helper()
	s := scrape{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("not a sample line: %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		s[line[:i]] = v
	}
	if len(s) == 0 {
		t.Fatalf("no samples in:\n%s", body)
	}
	return s
}

// named returns the series of metric name, whatever their labels.
func (s scrape) named(name string) map[string]float64 {
	found := map[string]float64{}
	for series, v := range s {
		if series == name || strings.HasPrefix(series, name+"{") {
			found[series] = v
		}
	}
	return found
}

// labelValues lists the values label takes across every series of name.
func (s scrape) labelValues(name, label string) []string {
	var vals []string
	for series := range s.named(name) {
		_, after, ok := strings.Cut(series, label+`="`)
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(after, `"`)
		vals = append(vals, v)
	}
	return vals
}

func requestSeries(name, method, route string, status int) string {
	return name + `{method="` + method + `",route="` + route + `",status="` + strconv.Itoa(status) + `"}`
}

func scrapeAPI(t *testing.T, api *apitest.API) scrape {
	t.Helper()
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: controllers.MetricsPath})
	if res.Status != http.StatusOK {
		t.Fatalf("GET /metrics = %d %s", res.Status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("GET /metrics Content-Type = %q, want the Prometheus text format", ct)
	}
	return parseScrape(t, res.Body)
}

func randomPath() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "/no-such-route/" + hex.EncodeToString(b)
}

// The real router on a real database: requests move the series of their
// route template and status, never of their raw path; the pool, runtime and
// process series are there; scrapes are not counted as traffic.
func TestMetricsCountRequestsByRouteTemplate(t *testing.T) {
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	if res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Token: ada.Token,
		Body: `{"name":"Teapot","description":"Short and stout","price_cents":1999}`}); res.Status != http.StatusCreated {
		t.Fatalf("POST /items: %d %s", res.Status, res.Body)
	}
	before := scrapeAPI(t, api)

	requests := []struct {
		method, path, token string
		status              int
		route               string // the label the request must be counted under
	}{
		{http.MethodGet, "/items/1", "", http.StatusOK, "/items/:id"},
		{http.MethodGet, "/items/1", "", http.StatusOK, "/items/:id"},
		{http.MethodGet, "/items/999999", "", http.StatusNotFound, "/items/:id"},
		{http.MethodGet, "/users/me", "", http.StatusUnauthorized, "/users/me"},
		{http.MethodGet, "/users/me", ada.Token, http.StatusOK, "/users/me"},
		{http.MethodGet, randomPath(), "", http.StatusNotFound, controllers.UnmatchedRoute},
		{http.MethodGet, randomPath(), "", http.StatusNotFound, controllers.UnmatchedRoute},
		{http.MethodDelete, "/healthz", "", http.StatusMethodNotAllowed, controllers.UnmatchedRoute},
	}
	want := map[string]float64{}
	for _, r := range requests {
		res := api.Do(apitest.Request{Method: r.method, Path: r.path, Token: r.token})
		if res.Status != r.status {
			t.Fatalf("%s %s = %d %s, want %d", r.method, r.path, res.Status, res.Body, r.status)
		}
		want[requestSeries("http_requests_total", r.method, r.route, r.status)]++
	}
	after := scrapeAPI(t, api)

	for series, n := range want {
		if got := after[series] - before[series]; got != n {
			t.Errorf("%s moved by %v, want %v", series, got, n)
		}
		count := strings.Replace(series, "http_requests_total", "http_request_duration_seconds_count", 1)
		if got := after[count] - before[count]; got != n {
			t.Errorf("%s moved by %v, want %v", count, got, n)
		}
		inf := strings.Replace(strings.Replace(series, "http_requests_total", "http_request_duration_seconds_bucket", 1), "}", `,le="+Inf"}`, 1)
		if got := after[inf] - before[inf]; got != n {
			t.Errorf("%s moved by %v, want %v", inf, got, n)
		}
	}
	routes := map[string]bool{controllers.UnmatchedRoute: true}
	for _, r := range api.Engine.Routes() {
		routes[r.Path] = true
	}
	for _, route := range after.labelValues("http_requests_total", "route") {
		if !routes[route] {
			t.Errorf("route label %q is neither a route template nor %q", route, controllers.UnmatchedRoute)
		}
		if route == controllers.MetricsPath {
			t.Errorf("scrapes are counted in http_requests_total")
		}
	}
	// A scrape is counted once answered, so the first one shows in the second.
	if got := after[`promhttp_metric_handler_requests_total{code="200"}`]; got < 1 {
		t.Errorf(`promhttp_metric_handler_requests_total{code="200"} = %v, want the scrapes counted there`, got)
	}
	// Scrapes are not counted, and nothing else is running.
	if v, ok := after["http_requests_in_flight"]; !ok || v != 0 {
		t.Errorf("http_requests_in_flight = %v (present %t), want 0", v, ok)
	}

	db := `{db_name="` + dbName(t, api.Config.DatabaseURL) + `"}`
	for _, c := range []struct {
		series string
		ok     func(float64) bool
		want   string
	}{
		{"go_sql_max_open_connections" + db, func(v float64) bool { return v == float64(api.Config.DBMaxOpenConns) }, "DB_MAX_OPEN_CONNS"},
		{"go_sql_open_connections" + db, func(v float64) bool { return v >= 1 }, "at least 1 after the queries"},
		{"go_sql_in_use_connections" + db, func(v float64) bool { return v == 0 }, "0 between requests"},
		{"go_sql_idle_connections" + db, func(v float64) bool { return v >= 1 }, "at least 1 after the queries"},
		{"go_sql_wait_count_total" + db, func(v float64) bool { return v >= 0 }, "present"},
		{"go_sql_wait_duration_seconds_total" + db, func(v float64) bool { return v >= 0 }, "present"},
		{"db_pool_queue_waits_total" + db, func(v float64) bool { return v >= 0 }, "present"},
		{"db_pool_queue_wait_seconds_total" + db, func(v float64) bool { return v >= 0 }, "present"},
		{"password_hash_workers", func(v float64) bool { return v == float64(api.Config.HashWorkers) }, "HASH_WORKERS"},
		{"password_hash_workers_busy", func(v float64) bool { return v == 0 }, "0 between requests"},
		{"password_hash_queued", func(v float64) bool { return v == 0 }, "0 between requests"},
		{"password_hashes_total", func(v float64) bool { return v >= 1 }, "at least the sign-up's"},
		{"password_hash_waits_total", func(v float64) bool { return v >= 0 }, "present"},
		{"password_hash_wait_seconds_total", func(v float64) bool { return v >= 0 }, "present"},
		{"password_hash_rejections_total", func(v float64) bool { return v == 0 }, "0 with workers free"},
		{"go_goroutines", func(v float64) bool { return v >= 1 }, "at least 1"},
		{"go_gc_duration_seconds_count", func(v float64) bool { return v >= 0 }, "present"},
		{"go_memstats_heap_alloc_bytes", func(v float64) bool { return v > 0 }, "positive"},
		{"process_resident_memory_bytes", func(v float64) bool { return v > 0 }, "positive"},
		{"process_cpu_seconds_total", func(v float64) bool { return v > 0 }, "positive"},
	} {
		v, ok := after[c.series]
		if !ok {
			t.Errorf("%s is not in the scrape", c.series)
			continue
		}
		if !c.ok(v) {
			t.Errorf("%s = %v, want %s", c.series, v, c.want)
		}
	}
}

func dbName(t *testing.T, url string) string {
	t.Helper()
	rest := url[strings.LastIndexByte(url, '/')+1:]
	name, _, _ := strings.Cut(rest, "?")
	if name == "" {
		t.Fatalf("no database name in %s", url)
	}
	return name
}

// With METRICS_ADDR set, /metrics leaves the public router: it is an
// unmatched 404 there, counted as such. cmd/server's tests check that the
// listener of its own serves it.
func TestMetricsAddrTakesMetricsOffTheRouter(t *testing.T) {
	for _, c := range []struct {
		name        string
		metricsAddr string
		status      int
	}{
		{"METRICS_ADDR empty", "", http.StatusOK},
		{"METRICS_ADDR set", "127.0.0.1:0", http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			api := apitest.New(t, func(cfg *app.Config) { cfg.MetricsAddr = c.metricsAddr })
			if res := api.Do(apitest.Request{Method: http.MethodGet, Path: controllers.MetricsPath}); res.Status != c.status {
				t.Errorf("GET /metrics = %d, want %d", res.Status, c.status)
			}
			registered := false
			for _, r := range api.Engine.Routes() {
				registered = registered || r.Path == controllers.MetricsPath
			}
			if registered != (c.metricsAddr == "") {
				t.Errorf("/metrics registered on the router: %t, want %t", registered, c.metricsAddr == "")
			}
		})
	}
}

// The middleware sees the status that was sent, also when Recover answers a
// panic and a handler's error becomes a 503, because it is outside them; a
// made-up method is not a label value of its own.
func TestHTTPMetricsSeesTheFinalStatus(t *testing.T) {
	gin.SetMode(gin.TestMode)
	m := controllers.NewHTTPMetrics()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r.Use(m.Middleware, controllers.Recover(logger))
	r.NoRoute(controllers.NoRoute)
	r.NoMethod(controllers.NoMethod)
	for _, rt := range []controllers.Route{
		{Method: http.MethodGet, Path: "/items/:id", Handle: func(c *gin.Context) error { c.Status(http.StatusOK); return nil }},
		{Method: http.MethodGet, Path: "/panic", Handle: func(*gin.Context) error { panic("boom") }},
		{Method: http.MethodGet, Path: "/slow", Handle: func(*gin.Context) error { return services.ErrUnavailable }},
	} {
		r.Handle(rt.Method, rt.Path, controllers.Plain(rt, logger))
	}
	r.GET(controllers.MetricsPath, gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))

	for _, c := range []struct {
		method, path string
		series       string
	}{
		{http.MethodGet, "/items/7", requestSeries("http_requests_total", "GET", "/items/:id", 200)},
		{http.MethodGet, "/panic", requestSeries("http_requests_total", "GET", "/panic", 500)},
		{http.MethodGet, "/slow", requestSeries("http_requests_total", "GET", "/slow", 503)},
		{http.MethodGet, "/nowhere", requestSeries("http_requests_total", "GET", "unmatched", 404)},
		{"BREW", "/items/7", requestSeries("http_requests_total", "other", "unmatched", 405)},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			before := scrapeRouter(t, r)[c.series]
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, c.path, nil))
			if got := scrapeRouter(t, r)[c.series] - before; got != 1 {
				t.Errorf("%s moved by %v, want 1", c.series, got)
			}
		})
	}
}

func scrapeRouter(t *testing.T, r http.Handler) scrape {
	t.Helper()
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, controllers.MetricsPath, nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d %s", w.Code, w.Body)
	}
	return parseScrape(t, w.Body.Bytes())
}
