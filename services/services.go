// Package services holds the domain: its types, its rules and the errors
// that every other layer speaks in. It knows nothing of HTTP or SQL.
package services

import "context"

// Transactor runs fn atomically: every write fn makes through a repository
// commits together with the others, or none does. A call inside another
// joins the outer transaction.
type Transactor interface {
	ExecTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Role is what an account may do beyond its own resources.
type Role string

const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin" // may read and change every user and item
)

// Caller is who is asking: a signed-in user, or nobody (the zero Caller).
type Caller struct {
	UserID int64
	Role   Role
}

// IsAdmin reports whether the caller may act on anyone's resources.
func (c Caller) IsAdmin() bool { return c.Role == RoleAdmin }

// Versions are the versions of a resource a write may apply to: those the
// client's If-Match names. nil means any version; an empty Versions, none.
type Versions []int64
