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

// Caller is who is asking: a signed-in user, or nobody (the zero Caller).
type Caller struct {
	UserID int64
}
