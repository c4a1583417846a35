package services

import "context"

// Transactor runs fn atomically: every write fn makes through a repository
// commits together or not at all. Calls nest; only the outermost commits, and
// an inner call that fails undoes its own writes even if its caller goes on.
type Transactor interface {
	WithinTx(ctx context.Context, fn func(ctx context.Context) error) error
}
