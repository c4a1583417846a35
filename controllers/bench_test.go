package controllers

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/services"
)

// discardWriter keeps nothing, so the benchmarks measure the handler's work
// and not a recorder's.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkRespondError is the error path of a request: the error mapper
// choosing a status and the problem+json body written through Gin, with
// Gin's own routing (which allocates nothing) around it.
func BenchmarkRespondError(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	for _, c := range []struct {
		name string
		err  error
	}{
		{"not_found", services.ErrNotFound},
		{"validation", &ValidationError{Detail: "request body failed validation", Errors: []FieldError{
			{Field: "name", Message: "must be at least 1 character long"},
			{Field: "price_cents", Message: "is required"},
		}}},
		{"unauthenticated", services.ErrUnauthenticated},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := gin.New()
			r.Use(Errors)
			r.GET("/items/:id", func(ctx *gin.Context) { _ = ctx.Error(c.err) })
			req := httptest.NewRequest(http.MethodGet, "/items/1", nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				r.ServeHTTP(w, req)
			}
		})
	}
}

func itemPage(n int) services.PageOf[services.Item] {
	at := time.Date(2026, 1, 2, 15, 4, 5, 123456000, time.UTC)
	p := services.PageOf[services.Item]{Page: services.Page{Limit: n}, Total: 10000}
	for i := range n {
		p.Items = append(p.Items, services.Item{
			ID: int64(i + 1), Name: "item", Description: "seeded for the benchmark", PriceCents: 1999,
			OwnerID: 1, CreatedAt: at, UpdatedAt: at,
		})
	}
	return p
}

// BenchmarkEncodeItemPage is the body of GET /items?limit=20: the domain
// page converted to its response type and encoded as c.JSON does.
func BenchmarkEncodeItemPage(b *testing.B) {
	p := itemPage(20)
	b.ReportAllocs()
	for b.Loop() {
		if err := json.NewEncoder(io.Discard).Encode(pageOf(p, itemResponse)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeItemPageGin is the same page written by Gin's c.JSON.
func BenchmarkEncodeItemPageGin(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	p := itemPage(20)
	r := gin.New()
	r.GET("/items", func(c *gin.Context) { c.JSON(http.StatusOK, pageOf(p, itemResponse)) })
	req := httptest.NewRequest(http.MethodGet, "/items", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		r.ServeHTTP(w, req)
	}
}
