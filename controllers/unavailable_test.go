package controllers_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/internal/apitest"
)

// A request whose database work outlives DB_QUERY_TIMEOUT gets the
// documented 503 problem, not a 500; faults/outage_test.go cuts a real
// database under load.
func TestQueryTimeoutIsUnavailable(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, func(c *app.Config) { c.DBQueryTimeout = time.Nanosecond })
	for _, r := range []apitest.Request{
		{Method: http.MethodGet, Path: "/items"},
		{Method: http.MethodGet, Path: "/items/1"},
		{Method: http.MethodPost, Path: "/users", Body: map[string]string{
			"email": "a@example.com", "name": "A", "password": "password123",
		}},
	} {
		res := api.Do(r)
		var p struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		res.JSON(t, &p)
		if res.Status != http.StatusServiceUnavailable || p.Detail != "the database is not reachable" {
			t.Errorf("%s %s = %d %s, want 503 saying the database is not reachable", r.Method, r.Path, res.Status, res.Body)
		}
	}
}
