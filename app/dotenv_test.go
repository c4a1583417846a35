package app_test

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/example/apitemplate/app"
)

// writeDotEnv makes a fresh working directory holding .env with content.
// t.Chdir restores the old one when the test ends.
func writeDotEnv(t *testing.T, content string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, app.DotEnvFile), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
}

func TestLoadConfigReadsDotEnvAndTheEnvironmentWins(t *testing.T) {
	setEnv(t, map[string]string{"LOG_FORMAT": "json"})
	writeDotEnv(t, "# a developer's settings\nHTTP_ADDR=127.0.0.1:7000\nLOG_FORMAT=text\nJWT_TTL=5m\n")
	cfg, err := app.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:7000" || cfg.JWTTTL != 5*time.Minute {
		t.Errorf("HTTP_ADDR = %q, JWT_TTL = %v: want the values in .env", cfg.HTTPAddr, cfg.JWTTTL)
	}
	if cfg.LogFormat != "json" {
		t.Errorf("LOG_FORMAT = %q, want json: the environment wins over .env", cfg.LogFormat)
	}
}

func TestLoadConfigReportsBadDotEnv(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"a value that does not parse names the variable", "SHUTDOWN_TIMEOUT=soon\n", "SHUTDOWN_TIMEOUT"},
		{"a value that is invalid names the variable", "LOG_FORMAT=xml\n", "LOG_FORMAT"},
		{"a line that is not KEY=value names the file", "HTTP_ADDR\n", app.DotEnvFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearConfigEnv(t)
			writeDotEnv(t, tt.content)
			_, err := app.LoadConfig()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadConfig = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// .env.example is the list a developer copies from, so it must name every
// variable Config reads, and nothing else, each with its real default and a
// comment line saying what it means.
func TestDotEnvExampleMatchesConfig(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	var previous string
	sc := bufio.NewScanner(strings.NewReader(string(example)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if key, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			if _, dup := listed[key]; dup {
				t.Errorf(".env.example lists %s twice", key)
			}
			listed[key] = value
			if !strings.HasPrefix(previous, "# ") {
				t.Errorf(".env.example: %s has no comment line above it saying what it means", key)
			}
		}
		previous = line
	}

	typ := reflect.TypeFor[app.Config]()
	var tags []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" || name == "-" { // "-": set by code, not the environment
			continue
		}
		tags = append(tags, name)
		value, ok := listed[name]
		switch {
		case !ok:
			t.Errorf(".env.example does not list %s (Config.%s)", name, f.Name)
		case value != f.Tag.Get("envDefault"):
			t.Errorf(".env.example: %s=%s, but its default is %q", name, value, f.Tag.Get("envDefault"))
		}
	}
	for key := range listed {
		if !slices.Contains(tags, key) {
			t.Errorf(".env.example lists %s, which Config does not read", key)
		}
	}
}

// Copying .env.example to .env, as the quick start says, changes nothing.
func TestDotEnvExampleAsDotEnvIsTheDefaults(t *testing.T) {
	clearConfigEnv(t)
	defaults, err := app.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	writeDotEnv(t, string(example))
	cfg, err := app.LoadConfig()
	if err != nil {
		t.Fatalf("LoadConfig with .env.example as .env: %v", err)
	}
	if !reflect.DeepEqual(cfg, defaults) {
		t.Errorf("with .env.example as .env:\n%+v\nwant the defaults:\n%+v", cfg, defaults)
	}
}
