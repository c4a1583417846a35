// Package services holds the domain: its types, its rules and the errors
// that every other layer speaks in. It knows nothing of HTTP or SQL.
package services

import (
	"errors"
	"fmt"
	"time"
)

// Domain errors. Repositories return them, services add to them, and the HTTP
// layer maps each to a status code in exactly one place (controllers/problem.go).
var (
	ErrNotFound           = errors.New("not found")
	ErrInvalidCredentials = errors.New("invalid email or password")
	ErrUnauthenticated    = errors.New("authentication required")
	ErrForbidden          = errors.New("forbidden")
)

// ConflictError reports that a write would break a uniqueness rule.
type ConflictError struct {
	Resource string // "user"
	Field    string // JSON name of the field, "email"
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("a %s with this %s already exists", e.Resource, e.Field)
}

// ThrottledError reports that a caller must wait before trying again.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed attempts, retry in %s", e.RetryAfter.Round(time.Second))
}

// Page selects a window of an ordered list.
type Page struct {
	Limit  int
	Offset int
}

// PageOf is one window of a list together with the size of the whole list.
type PageOf[T any] struct {
	Items []T
	Page
	Total int64
}
