package services

import (
	"errors"
	"fmt"
	"time"
)

// Domain errors. Repositories return them, services add to them, and the
// HTTP layer maps each to a status code in exactly one place
// (controllers/problem.go).
var (
	ErrNotFound           = errors.New("not found")
	ErrInvalidCredentials = errors.New("invalid email or password")
	ErrUnauthenticated    = errors.New("authentication required")
	ErrForbidden          = errors.New("forbidden")
	// ErrPreconditionFailed is a conditional write whose resource is no
	// longer at any of the versions it was conditioned on.
	ErrPreconditionFailed = errors.New("the resource has changed")
	// ErrIdempotencyInFlight is a request whose Idempotency-Key another
	// request is still being processed with.
	ErrIdempotencyInFlight = errors.New("a request with this idempotency key is in progress")
	// ErrIdempotencyMismatch is an Idempotency-Key already used for a
	// different request.
	ErrIdempotencyMismatch = errors.New("the idempotency key was used for a different request")
	// ErrUnavailable is a database that could not be reached, or did not
	// answer within the request's time on the database. It wraps the
	// driver's error, for the log.
	ErrUnavailable = errors.New("the database is not reachable")
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

// BusyError reports that the server itself is out of capacity for the
// request (no password-hashing worker came free in time), not that anything
// is wrong with the request or the database.
type BusyError struct {
	RetryAfter time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("the server is busy, retry in %s", e.RetryAfter.Round(time.Second))
}
