// Package app assembles the process: configuration, logging, the database
// pool, the router and the HTTP server. Wire calls its constructors.
package app

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/jackc/pgx/v5"
	"github.com/joho/godotenv"
	"go.opentelemetry.io/otel/trace"

	"github.com/example/apitemplate/services"
)

// Config is every setting of the server, read from the environment and
// .env. .env.example lists them all; app's tests keep it in step.
type Config struct {
	Env      string `env:"APP_ENV" envDefault:"development"` // "production" tightens the checks in Validate
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080"`
	// HTTPReadHeaderTimeout cuts off a client that trickles its request
	// headers, so it cannot hold a connection open indefinitely.
	HTTPReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s"`

	DatabaseURL       string        `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/app?sslmode=disable"`
	DBAutoMigrate     bool          `env:"DB_AUTO_MIGRATE" envDefault:"true"`
	DBMaxOpenConns    int           `env:"DB_MAX_OPEN_CONNS" envDefault:"20"`
	DBMaxIdleConns    int           `env:"DB_MAX_IDLE_CONNS" envDefault:"20"`
	DBConnMaxLifetime time.Duration `env:"DB_CONN_MAX_LIFETIME" envDefault:"30m"`
	// DBQueryTimeout bounds the database work of one request, so that when
	// the database is unreachable requests fail with 503 instead of piling up.
	DBQueryTimeout time.Duration `env:"DB_QUERY_TIMEOUT" envDefault:"5s"`
	// DBQueryExecMode is how pgx sends statements. cache_statement prepares
	// each once per connection, which is fastest but breaks behind a pooler
	// in transaction mode that does not track prepared statements (PgBouncer
	// before 1.21): there use exec, cache_describe or simple_protocol, never
	// describe_exec, whose two round trips can land on different server
	// connections (cluster/execmode_test.go shows both failures).
	DBQueryExecMode string `env:"DB_QUERY_EXEC_MODE" envDefault:"cache_statement"`
	// DBTracer, when set, sees every statement the pool sends: a hook for
	// instrumentation and for tests that count round trips. Code sets it;
	// the environment cannot.
	DBTracer pgx.QueryTracer `env:"-"`

	JWTSecret string        `env:"JWT_SECRET"`
	JWTTTL    time.Duration `env:"JWT_TTL" envDefault:"15m"`
	// RefreshTTL is how long a refresh token lasts; each refresh makes a
	// new one, so a session lives while it is used at least this often.
	RefreshTTL  time.Duration `env:"REFRESH_TTL" envDefault:"720h"`
	JWTIssuer   string        `env:"JWT_ISSUER" envDefault:"apitemplate"`
	JWTAudience string        `env:"JWT_AUDIENCE" envDefault:"apitemplate"`
	BcryptCost  int           `env:"BCRYPT_COST" envDefault:"12"`
	// HashWorkers bounds the passwords hashed at once (sign-up, login): 0
	// is one fewer than the CPUs the Go runtime uses (at least one), so
	// that a flood of sign-ups always leaves a CPU to everything else.
	HashWorkers int `env:"HASH_WORKERS" envDefault:"0"`
	// HashQueueTimeout is the longest a request waits for a hashing worker
	// before it is answered 503 "the server is busy".
	HashQueueTimeout time.Duration `env:"HASH_QUEUE_TIMEOUT" envDefault:"20s"`

	LoginMaxFailuresPerEmail  int           `env:"LOGIN_MAX_FAILURES_PER_EMAIL" envDefault:"5"`
	LoginMaxFailuresPerClient int           `env:"LOGIN_MAX_FAILURES_PER_CLIENT" envDefault:"50"`
	LoginFailureWindow        time.Duration `env:"LOGIN_FAILURE_WINDOW" envDefault:"1m"`

	CORSAllowOrigins []string `env:"CORS_ALLOW_ORIGINS" envSeparator:","`
	TrustedProxies   []string `env:"TRUSTED_PROXIES" envSeparator:","`
	DocsEnabled      bool     `env:"DOCS_ENABLED" envDefault:"true"`
	// MetricsAddr, when set, moves GET /metrics off the public address to a
	// listener of its own, so only the scraper's network can reach it.
	MetricsAddr string `env:"METRICS_ADDR"`

	// PprofEnabled serves net/http/pprof on METRICS_ADDR's listener, never
	// on the API's.
	PprofEnabled bool `env:"PPROF_ENABLED" envDefault:"false"`

	// OpenTelemetry tracing, by the standard variables; off unless an
	// endpoint is set. The exporter's other OTEL_EXPORTER_OTLP_* settings
	// and OTEL_RESOURCE_ATTRIBUTES are read from the process environment.
	OTelEndpoint       string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	OTelTracesEndpoint string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	OTelServiceName    string `env:"OTEL_SERVICE_NAME" envDefault:"apitemplate"`
	OTelSampler        string `env:"OTEL_TRACES_SAMPLER" envDefault:"parentbased_always_on"`
	OTelSamplerArg     string `env:"OTEL_TRACES_SAMPLER_ARG"`
	OTelSDKDisabled    bool   `env:"OTEL_SDK_DISABLED" envDefault:"false"`
	// TracerProvider, when set, receives the spans instead of an exporter:
	// for tests that look at them. Code sets it; the environment cannot.
	TracerProvider trace.TracerProvider `env:"-"`

	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`
	LogLevel        slog.Level    `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"json"`
}

// maxHashQueueTimeout leaves a request that waited the longest for a
// hashing worker time to hash and to answer before writeTimeout.
const maxHashQueueTimeout = writeTimeout - 5*time.Second

// MinJWTSecretBytes is the shortest HS256 key production accepts.
const MinJWTSecretBytes = 32

// DotEnvFile is read from the working directory when it exists, so a
// developer's settings survive shells and restarts without being exported.
const DotEnvFile = ".env"

// LoadConfig reads Config from the environment and DotEnvFile, and
// validates it. A variable set in the environment wins over the file, so
// an operator can always override it.
func LoadConfig() (Config, error) {
	vars, err := environment(DotEnvFile)
	if err != nil {
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: vars})
	if err != nil {
		return Config{}, fmt.Errorf("configuration: %w", nameVariables(err))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// environment is the variables in dotEnv (if it exists) overlaid with the
// process environment. The process environment is read, never changed.
func environment(dotEnv string) (map[string]string, error) {
	vars, err := godotenv.Read(dotEnv)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		vars = map[string]string{}
	case err != nil:
		return nil, fmt.Errorf("%s: %w", dotEnv, err)
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return vars, nil
}

// nameVariables rewrites env's parse errors, which name the Go field, to
// name the environment variable the operator actually set.
func nameVariables(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	errs := make([]error, len(agg.Errors))
	for i, e := range agg.Errors {
		errs[i] = e
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
				name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
				errs[i] = fmt.Errorf("%s: %w", name, pe.Err)
			}
		}
	}
	return errors.Join(errs...)
}

// tracingOn reports whether spans are exported: an endpoint is set and the
// SDK is not disabled.
func (c Config) tracingOn() bool {
	return (c.OTelEndpoint != "" || c.OTelTracesEndpoint != "") && !c.OTelSDKDisabled
}

// Production reports whether APP_ENV is production.
func (c Config) Production() bool { return c.Env == "production" }

// Validate rejects settings the server must not start with.
func (c Config) Validate() error {
	var errs []error
	if c.Production() && len(c.JWTSecret) < MinJWTSecretBytes {
		errs = append(errs, fmt.Errorf("JWT_SECRET must be set to at least %d bytes when APP_ENV=production", MinJWTSecretBytes))
	}
	if c.BcryptCost < 4 || c.BcryptCost > 31 {
		errs = append(errs, errors.New("BCRYPT_COST must be between 4 and 31"))
	}
	if c.Production() && c.BcryptCost < 10 {
		errs = append(errs, errors.New("BCRYPT_COST must be at least 10 when APP_ENV=production"))
	}
	if c.DBMaxOpenConns < 1 {
		errs = append(errs, errors.New("DB_MAX_OPEN_CONNS must be at least 1"))
	}
	if c.JWTTTL < time.Second || c.JWTTTL > math.MaxInt32*time.Second {
		errs = append(errs, errors.New("JWT_TTL must be between 1s and 68 years"))
	}
	if c.RefreshTTL <= c.JWTTTL {
		errs = append(errs, errors.New("REFRESH_TTL must be longer than JWT_TTL"))
	}
	if c.HashWorkers < 0 {
		errs = append(errs, errors.New("HASH_WORKERS must be 0 (one fewer than the CPUs) or more"))
	}
	if c.HashQueueTimeout <= 0 || c.HashQueueTimeout > maxHashQueueTimeout {
		errs = append(errs, fmt.Errorf("HASH_QUEUE_TIMEOUT must be positive and at most %s, so that an answer leaves before the %s write timeout", maxHashQueueTimeout, writeTimeout))
	}
	if c.DBQueryTimeout <= 0 {
		errs = append(errs, errors.New("DB_QUERY_TIMEOUT must be positive"))
	}
	if _, ok := queryExecModes[c.DBQueryExecMode]; !ok {
		errs = append(errs, fmt.Errorf("DB_QUERY_EXEC_MODE must be one of %s", strings.Join(slices.Sorted(maps.Keys(queryExecModes)), ", ")))
	}
	if c.PprofEnabled && c.MetricsAddr == "" {
		errs = append(errs, errors.New("PPROF_ENABLED needs METRICS_ADDR: profiles are served only on the metrics listener, never on the API's"))
	}
	if _, err := parseSampler(c.OTelSampler, c.OTelSamplerArg); err != nil {
		errs = append(errs, err)
	}
	for name, v := range map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.OTelEndpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": c.OTelTracesEndpoint} {
		if u, err := url.Parse(v); v != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			errs = append(errs, fmt.Errorf("%s must be an http:// or https:// URL, such as http://otel-collector:4318", name))
		}
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.HTTPAddr {
		errs = append(errs, errors.New("METRICS_ADDR must differ from HTTP_ADDR; leave it empty to serve /metrics on HTTP_ADDR"))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, errors.New(`LOG_FORMAT must be "json" or "text"`))
	}
	for _, o := range c.CORSAllowOrigins {
		if o == "*" {
			errs = append(errs, errors.New("CORS_ALLOW_ORIGINS must list origins, not *"))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return nil
}

// NewAuthConfig derives the auth settings. Outside production a missing
// JWT_SECRET is replaced by a random one, with a warning, so the server runs
// with no setup; Validate has already refused that in production.
func NewAuthConfig(cfg Config, logger *slog.Logger) (services.AuthConfig, error) {
	secret := []byte(cfg.JWTSecret)
	if len(secret) == 0 {
		secret = make([]byte, MinJWTSecretBytes)
		if _, err := rand.Read(secret); err != nil {
			return services.AuthConfig{}, fmt.Errorf("generate JWT secret: %w", err)
		}
		logger.Warn("JWT_SECRET is not set: using a random secret; tokens will not survive a restart or work across replicas")
	}
	workers := cfg.HashWorkers
	if workers == 0 {
		workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	return services.AuthConfig{
		JWTSecret:        secret,
		TokenTTL:         cfg.JWTTTL,
		RefreshTTL:       cfg.RefreshTTL,
		Issuer:           cfg.JWTIssuer,
		Audience:         cfg.JWTAudience,
		BcryptCost:       cfg.BcryptCost,
		HashWorkers:      workers,
		HashQueueTimeout: cfg.HashQueueTimeout,
		MaxPerEmail:      cfg.LoginMaxFailuresPerEmail,
		MaxPerAddr:       cfg.LoginMaxFailuresPerClient,
		FailWindow:       cfg.LoginFailureWindow,
	}, nil
}
