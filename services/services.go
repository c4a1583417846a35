package services

import "context"

// Transactor runs fn atomically: every write fn makes through a repository
// commits together or not at all. Calls nest; only the outermost commits.
type Transactor interface {
	WithinTx(ctx context.Context, fn func(ctx context.Context) error) error
}
