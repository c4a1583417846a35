package app_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/example/apitemplate/app"
)

// clearConfigEnv unsets, for the rest of the test, every variable Config
// reads, so the test sees the defaults whatever the environment holds.
func clearConfigEnv(t *testing.T) {
	t.Helper()
	typ := reflect.TypeFor[app.Config]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("env"), ",")
		if name == "" {
			continue
		}
		t.Setenv(name, "") // restores the old value when the test ends
		if err := os.Unsetenv(name); err != nil {
			t.Fatal(err)
		}
	}
}

// setEnv clears the environment, then sets vars.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	clearConfigEnv(t)
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	clearConfigEnv(t)
	cfg, err := app.LoadConfig()
	if err != nil {
		t.Fatalf("LoadConfig with nothing set: %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"APP_ENV", cfg.Env, "development"},
		{"HTTP_ADDR", cfg.HTTPAddr, ":8080"},
		{"DATABASE_URL", cfg.DatabaseURL, "postgres://postgres@127.0.0.1:5432/app?sslmode=disable"},
		{"DB_AUTO_MIGRATE", cfg.DBAutoMigrate, true},
		{"SHUTDOWN_TIMEOUT", cfg.ShutdownTimeout, 10 * time.Second},
		{"DOCS_ENABLED", cfg.DocsEnabled, true},
		{"JWT_SECRET", cfg.JWTSecret, ""},
		{"BCRYPT_COST", cfg.BcryptCost, 12},
		{"LOG_FORMAT", cfg.LogFormat, "json"},
		{"CORS_ALLOW_ORIGINS", len(cfg.CORSAllowOrigins), 0},
		{"DB_QUERY_EXEC_MODE", cfg.DBQueryExecMode, "cache_statement"},
		{"METRICS_ADDR", cfg.MetricsAddr, ""},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
	if cfg.Production() {
		t.Errorf("the default environment is production")
	}
}

func TestLoadConfigReadsTheEnvironment(t *testing.T) {
	setEnv(t, map[string]string{
		"HTTP_ADDR":          "127.0.0.1:9000",
		"DB_AUTO_MIGRATE":    "false",
		"SHUTDOWN_TIMEOUT":   "3s",
		"DOCS_ENABLED":       "false",
		"CORS_ALLOW_ORIGINS": "https://a.example,https://b.example",
	})
	cfg, err := app.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:9000" || cfg.DBAutoMigrate || cfg.ShutdownTimeout != 3*time.Second || cfg.DocsEnabled ||
		!reflect.DeepEqual(cfg.CORSAllowOrigins, []string{"https://a.example", "https://b.example"}) {
		t.Fatalf("LoadConfig = %+v, does not reflect the environment", cfg)
	}
}

func TestLoadConfigValidation(t *testing.T) {
	secret := func(n int) string { return strings.Repeat("s", n) }
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // a part of the error; "" means valid
	}{
		{"production without JWT_SECRET", map[string]string{"APP_ENV": "production"}, "JWT_SECRET"},
		{"production with a 31-byte JWT_SECRET", map[string]string{"APP_ENV": "production", "JWT_SECRET": secret(31)}, "JWT_SECRET"},
		{"production with a 32-byte JWT_SECRET", map[string]string{"APP_ENV": "production", "JWT_SECRET": secret(32)}, ""},
		{"development without JWT_SECRET", map[string]string{"APP_ENV": "development"}, ""},
		{"production with BCRYPT_COST 9", map[string]string{"APP_ENV": "production", "JWT_SECRET": secret(32), "BCRYPT_COST": "9"}, "BCRYPT_COST"},
		{"production with BCRYPT_COST 10", map[string]string{"APP_ENV": "production", "JWT_SECRET": secret(32), "BCRYPT_COST": "10"}, ""},
		{"development with BCRYPT_COST 4", map[string]string{"BCRYPT_COST": "4"}, ""},
		{"BCRYPT_COST 3", map[string]string{"BCRYPT_COST": "3"}, "BCRYPT_COST"},
		{"BCRYPT_COST 32", map[string]string{"BCRYPT_COST": "32"}, "BCRYPT_COST"},
		{"CORS *", map[string]string{"CORS_ALLOW_ORIGINS": "*"}, "CORS_ALLOW_ORIGINS"},
		{"CORS * among origins", map[string]string{"CORS_ALLOW_ORIGINS": "https://a.example,*"}, "CORS_ALLOW_ORIGINS"},
		{"CORS origins", map[string]string{"CORS_ALLOW_ORIGINS": "https://a.example"}, ""},
		{"LOG_FORMAT xml", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"DB_MAX_OPEN_CONNS 0", map[string]string{"DB_MAX_OPEN_CONNS": "0"}, "DB_MAX_OPEN_CONNS"},
		{"DB_QUERY_EXEC_MODE describe_exec", map[string]string{"DB_QUERY_EXEC_MODE": "describe_exec"}, ""},
		{"DB_QUERY_EXEC_MODE simple_protocol", map[string]string{"DB_QUERY_EXEC_MODE": "simple_protocol"}, ""},
		{"DB_QUERY_EXEC_MODE unknown", map[string]string{"DB_QUERY_EXEC_MODE": "prepared"}, "DB_QUERY_EXEC_MODE"},
		{"METRICS_ADDR of its own", map[string]string{"METRICS_ADDR": ":9090"}, ""},
		{"PPROF_ENABLED without METRICS_ADDR", map[string]string{"PPROF_ENABLED": "true"}, "PPROF_ENABLED"},
		{"PPROF_ENABLED on METRICS_ADDR", map[string]string{"PPROF_ENABLED": "true", "METRICS_ADDR": ":9090"}, ""},
		{"OTEL_EXPORTER_OTLP_ENDPOINT without a scheme", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT a URL", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ""},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT not http", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://collector:4317"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"OTEL_TRACES_SAMPLER unknown", map[string]string{"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER"},
		{"OTEL_TRACES_SAMPLER_ARG out of range", map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG"},
		{"HASH_QUEUE_TIMEOUT 0", map[string]string{"HASH_QUEUE_TIMEOUT": "0s"}, "HASH_QUEUE_TIMEOUT"},
		{"REFRESH_TTL shorter than JWT_TTL", map[string]string{"JWT_TTL": "1h", "REFRESH_TTL": "30m"}, "REFRESH_TTL"},
		{"METRICS_ADDR equal to HTTP_ADDR", map[string]string{"HTTP_ADDR": ":9090", "METRICS_ADDR": ":9090"}, "METRICS_ADDR"},
		// The error names the value but only the Go field, not the variable.
		{"unparsable duration", map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, `"soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			_, err := app.LoadConfig()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("LoadConfig: %v, want it valid", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("LoadConfig accepted it, want an error containing %s", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("LoadConfig: %v, want an error containing %s", err, tt.wantErr)
			}
		})
	}
}

func TestNewAuthConfigSecret(t *testing.T) {
	tests := []struct {
		name       string
		secret     string
		wantRandom bool
	}{
		{"JWT_SECRET empty", "", true},
		{"JWT_SECRET set", "configured-secret-configured-secret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := app.Config{JWTSecret: tt.secret, JWTTTL: time.Hour, JWTIssuer: "iss", JWTAudience: "aud", BcryptCost: 10,
				LoginMaxFailuresPerEmail: 5, LoginMaxFailuresPerClient: 50, LoginFailureWindow: time.Minute}
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))

			ac, err := app.NewAuthConfig(cfg, logger)
			if err != nil {
				t.Fatal(err)
			}
			if ac.TokenTTL != time.Hour || ac.Issuer != "iss" || ac.Audience != "aud" || ac.BcryptCost != 10 ||
				ac.MaxPerEmail != 5 || ac.MaxPerAddr != 50 || ac.FailWindow != time.Minute {
				t.Errorf("NewAuthConfig = %+v, does not carry the configuration", ac)
			}
			warnings := warnLines(t, &logs)

			if !tt.wantRandom {
				if string(ac.JWTSecret) != tt.secret {
					t.Errorf("secret = %q, want the configured one", ac.JWTSecret)
				}
				if len(warnings) != 0 {
					t.Errorf("warned %q with a configured secret", warnings)
				}
				return
			}
			if len(ac.JWTSecret) != app.MinJWTSecretBytes {
				t.Errorf("generated secret has %d bytes, want %d", len(ac.JWTSecret), app.MinJWTSecretBytes)
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], "JWT_SECRET") {
				t.Errorf("warnings = %q, want one about JWT_SECRET", warnings)
			}
			again, err := app.NewAuthConfig(cfg, logger)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(again.JWTSecret, ac.JWTSecret) || bytes.Equal(ac.JWTSecret, make([]byte, len(ac.JWTSecret))) {
				t.Errorf("generated secrets are not random: %x then %x", ac.JWTSecret, again.JWTSecret)
			}
		})
	}
}

// warnLines returns the messages of the WARN records in a JSON log.
func warnLines(t *testing.T, logs *bytes.Buffer) []string {
	t.Helper()
	var msgs []string
	dec := json.NewDecoder(logs)
	for dec.More() {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("log is not JSON lines: %v", err)
		}
		if rec.Level == slog.LevelWarn.String() {
			msgs = append(msgs, rec.Msg)
		}
	}
	return msgs
}
