package controllers

import (
	"net/http"
	"testing"
)

func TestRequestIDKeyIsCanonical(t *testing.T) {
	if got := http.CanonicalHeaderKey(RequestIDHeader); got != requestIDKey {
		t.Fatalf("requestIDKey = %q, want %q, the canonical form of %q", requestIDKey, got, RequestIDHeader)
	}
}
