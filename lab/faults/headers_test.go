package faults_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/internal/apitest"
)

// Every kind of response a browser can be shown carries the same defences,
// and none names the software behind it.
func TestSecurityHeaders(t *testing.T) {
	_, addr := startServer(t, apitest.NewDatabase(t), map[string]string{"CORS_ALLOW_ORIGINS": "https://app.example"})
	base := "http://" + addr
	tests := []struct {
		name, method, path string
		body               any
		status             int
		csp                string
	}{
		{"success", http.MethodGet, "/healthz", nil, http.StatusOK, controllers.APIContentSecurityPolicy},
		{"list", http.MethodGet, "/items", nil, http.StatusOK, controllers.APIContentSecurityPolicy},
		{"not found problem", http.MethodGet, "/nowhere", nil, http.StatusNotFound, controllers.APIContentSecurityPolicy},
		{"validation problem", http.MethodPost, "/users", map[string]string{}, http.StatusBadRequest, controllers.APIContentSecurityPolicy},
		{"unauthorised problem", http.MethodGet, "/users/me", nil, http.StatusUnauthorized, controllers.APIContentSecurityPolicy},
		{"OpenAPI document", http.MethodGet, "/schema/openapi.json", nil, http.StatusOK, controllers.APIContentSecurityPolicy},
		{"Swagger UI page", http.MethodGet, "/swagger/index.html", nil, http.StatusOK, controllers.SwaggerContentSecurityPolicy},
		{"Swagger UI script", http.MethodGet, "/swagger/swagger-ui-bundle.js", nil, http.StatusOK, controllers.SwaggerContentSecurityPolicy},
		{"Swagger document", http.MethodGet, "/swagger/doc.json", nil, http.StatusOK, controllers.SwaggerContentSecurityPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body, err := call(tt.method, base+tt.path, "", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status {
				t.Fatalf("%s %s = %d %.200s, want %d", tt.method, tt.path, status, body, tt.status)
			}
			want := map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Content-Security-Policy": tt.csp,
			}
			for k, v := range want {
				if got := h.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			for _, banner := range []string{"Server", "X-Powered-By"} {
				if v, ok := h[banner]; ok {
					t.Errorf("%s header sent: %q", banner, v)
				}
			}
		})
	}
	t.Logf("%d kinds of response checked: nosniff, no-referrer, CSP %q (Swagger UI: %q), no banner",
		len(tests), controllers.APIContentSecurityPolicy, controllers.SwaggerContentSecurityPolicy)

	t.Run("CORS allows the listed origin without credentials", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, base+"/items", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "https://app.example")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
			t.Errorf("Access-Control-Allow-Origin = %q, want the listed origin", got)
		}
		if got, ok := res.Header["Access-Control-Allow-Credentials"]; ok {
			t.Errorf("Access-Control-Allow-Credentials sent: %q", got)
		}
	})
}

// A wildcard CORS origin is a configuration error: the process says so in
// one line and exits non-zero instead of serving.
func TestWildcardCORSRefusesToStart(t *testing.T) {
	for _, origins := range []string{"*", "https://app.example,*"} {
		t.Run(origins, func(t *testing.T) {
			p := apitest.StartServer(t, serverBin, "", map[string]string{
				"DATABASE_URL":       "postgres://postgres@127.0.0.1:5432/never_used?sslmode=disable",
				"HTTP_ADDR":          apitest.FreeAddr(t),
				"JWT_SECRET":         testSecret,
				"CORS_ALLOW_ORIGINS": origins,
			})
			code := p.Wait(t, 10*time.Second)
			stderr := strings.TrimRight(p.Stderr.String(), "\n")
			t.Logf("CORS_ALLOW_ORIGINS=%s: exit %d, stderr %q", origins, code, stderr)
			if code == 0 {
				t.Error("exit code 0, want non-zero")
			}
			if strings.Count(stderr, "\n") != 0 || !strings.Contains(stderr, "CORS_ALLOW_ORIGINS") {
				t.Errorf("stderr = %q, want one line naming CORS_ALLOW_ORIGINS", stderr)
			}
			if strings.Contains(p.Stdout.String(), "server ready") {
				t.Error("the server said it was ready")
			}
		})
	}
}
