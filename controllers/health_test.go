package controllers_test

import (
	"net/http"
	"testing"

	"github.com/example/apitemplate/internal/apitest"
)

func TestHealth(t *testing.T) {
	api := apitest.New(t)
	tests := []struct {
		path string
		want string
	}{
		{"/", `{"status":"healthy"}`},
		{"/healthz", `{"status":"healthy"}`},
		{"/readyz", `{"status":"ready"}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: tt.path})
			if res.Status != http.StatusOK || string(res.Body) != tt.want {
				t.Fatalf("GET %s = %d %s, want 200 %s", tt.path, res.Status, res.Body, tt.want)
			}
		})
	}
}
