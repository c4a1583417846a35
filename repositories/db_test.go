package repositories_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/internal/apitest"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

var errFn = errors.New("fn failed")

// store is a pool on a fresh database with the repositories over it.
type store struct {
	db    *sqlx.DB
	users *repositories.UserRepository
	items *repositories.ItemRepository
	tx    *repositories.Transactor
}

func newStore(t *testing.T) store {
	t.Helper()
	db, err := sqlx.Open("pgx", apitest.NewDatabase(t))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	// Bounded, as the app's pool is, so that requests go through slots.
	db.SetMaxOpenConns(4)
	return store{
		db:    db,
		users: repositories.NewUserRepository(db),
		items: repositories.NewItemRepository(db),
		tx:    repositories.NewTransactor(db),
	}
}

// count returns the committed rows of table, read on a connection of its own.
func (s store) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := s.db.GetContext(context.Background(), &n, "SELECT count(*) FROM "+table); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// wantRows fails unless users and items hold the given numbers of rows.
func (s store) wantRows(t *testing.T, users, items int) {
	t.Helper()
	if u, i := s.count(t, "users"), s.count(t, "items"); u != users || i != items {
		t.Fatalf("committed rows: %d users, %d items; want %d users, %d items", u, i, users, items)
	}
}

// wantReleased fails if a connection is still checked out of the pool, as
// it is while a transaction stays open.
func (s store) wantReleased(t *testing.T) {
	t.Helper()
	if n := s.db.Stats().InUse; n != 0 {
		t.Fatalf("%d connections still in use, want 0", n)
	}
}

// writeUserAndItem inserts a user and an item of theirs.
func (s store) writeUserAndItem(ctx context.Context, email string) error {
	u, err := s.users.Create(ctx, services.NewUser{Email: email, Name: "Ann", PasswordHash: "x"})
	if err != nil {
		return err
	}
	_, err = s.items.Create(ctx, services.NewItem{Name: "lamp", PriceCents: 100, OwnerID: u.ID})
	return err
}

// inRequest runs fn the way a request does: with a unit of work attached to
// its context, cleaned up when it ends, and a panic recovered outside that,
// as controllers.Recover sits outside controllers.Scoped. It returns what fn
// panicked with and what it returned.
func inRequest(db *sqlx.DB, fn func(ctx context.Context) error) (panicked any, err error) {
	defer func() { panicked = recover() }()
	u, cleanup := repositories.NewUnitOfWork(db, repositories.NewSlots(db))
	defer cleanup()
	return nil, fn(u.Attach(context.Background()))
}

// contexts are the two ways WithinTx is reached: from a request, which has a
// unit of work, and from anything else, which has none.
var contexts = []struct {
	name string
	run  func(db *sqlx.DB, fn func(ctx context.Context) error) (any, error)
}{
	{"request", inRequest},
	{"no unit of work", func(_ *sqlx.DB, fn func(ctx context.Context) error) (panicked any, err error) {
		defer func() { panicked = recover() }()
		return nil, fn(context.Background())
	}},
}

func TestWithinTxCommits(t *testing.T) {
	for _, c := range contexts {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			p, err := c.run(s.db, func(ctx context.Context) error {
				return s.tx.WithinTx(ctx, func(ctx context.Context) error {
					return s.writeUserAndItem(ctx, "ann@example.com")
				})
			})
			if err != nil || p != nil {
				t.Fatalf("WithinTx = %v, panic %v", err, p)
			}
			s.wantRows(t, 1, 1)
			s.wantReleased(t)
		})
	}
}

func TestWithinTxRollsBackWhenFnFails(t *testing.T) {
	for _, c := range contexts {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			p, err := c.run(s.db, func(ctx context.Context) error {
				err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
					if err := s.writeUserAndItem(ctx, "ann@example.com"); err != nil {
						return err
					}
					return errFn
				})
				// The rollback is WithinTx's own, not the request's cleanup.
				if n := s.db.Stats().InUse; n != 0 {
					return fmt.Errorf("%d connections in use after WithinTx returned", n)
				}
				return err
			})
			if !errors.Is(err, errFn) || p != nil {
				t.Fatalf("WithinTx = %v, panic %v; want fn's error", err, p)
			}
			s.wantRows(t, 0, 0)
			s.wantReleased(t)
		})
	}
}

func TestWithinTxPanicLeavesNothing(t *testing.T) {
	for _, c := range contexts {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			p, err := c.run(s.db, func(ctx context.Context) error {
				return s.tx.WithinTx(ctx, func(ctx context.Context) error {
					if err := s.writeUserAndItem(ctx, "ann@example.com"); err != nil {
						return err
					}
					panic("boom")
				})
			})
			if p != "boom" {
				t.Fatalf("WithinTx = %v, panic %v; want the panic to pass through", err, p)
			}
			s.wantRows(t, 0, 0)
			s.wantReleased(t)
		})
	}
}

func TestWithinTxUsesTheTransaction(t *testing.T) {
	s := newStore(t)
	err := s.tx.WithinTx(context.Background(), func(ctx context.Context) error {
		u, err := s.users.Create(ctx, services.NewUser{Email: "ann@example.com", Name: "Ann", PasswordHash: "x"})
		if err != nil {
			return err
		}
		// A read through ctx sees the uncommitted row; the pool does not.
		if _, err := s.users.Get(ctx, u.ID); err != nil {
			return fmt.Errorf("read inside the transaction: %w", err)
		}
		if _, err := s.users.Get(context.Background(), u.ID); !errors.Is(err, services.ErrNotFound) {
			t.Errorf("read outside the transaction before the commit = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.wantRows(t, 1, 0)
}

func TestNestedWithinTxCommitsOnlyAtTheOutermost(t *testing.T) {
	tests := []struct {
		name      string
		outerErr  error
		wantUsers int
		wantItems int
	}{
		{"outer succeeds", nil, 1, 1},
		{"outer fails after inner succeeded", errFn, 0, 0},
	}
	for _, tt := range tests {
		for _, c := range contexts {
			t.Run(tt.name+"/"+c.name, func(t *testing.T) {
				s := newStore(t)
				p, err := c.run(s.db, func(ctx context.Context) error {
					return s.tx.WithinTx(ctx, func(ctx context.Context) error {
						var owner int64
						err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
							u, err := s.users.Create(ctx, services.NewUser{Email: "ann@example.com", Name: "Ann", PasswordHash: "x"})
							owner = u.ID
							return err
						})
						if err != nil {
							return err
						}
						if n := s.count(t, "users"); n != 0 {
							return fmt.Errorf("the inner WithinTx committed: %d users visible outside", n)
						}
						err = s.tx.WithinTx(ctx, func(ctx context.Context) error {
							_, err := s.items.Create(ctx, services.NewItem{Name: "lamp", PriceCents: 1, OwnerID: owner})
							return err
						})
						if err != nil {
							return err
						}
						return tt.outerErr
					})
				})
				if !errors.Is(err, tt.outerErr) || (tt.outerErr == nil && err != nil) || p != nil {
					t.Fatalf("WithinTx = %v, panic %v; want %v", err, p, tt.outerErr)
				}
				s.wantRows(t, tt.wantUsers, tt.wantItems)
				s.wantReleased(t)
			})
		}
	}
}

func TestNestedWithinTxFailureUndoesOnlyItsOwnWrites(t *testing.T) {
	create := func(ctx context.Context, s store, email string) error {
		_, err := s.users.Create(ctx, services.NewUser{Email: email, Name: "User", PasswordHash: "x"})
		return err
	}
	tests := []struct {
		name string
		// outer runs inside the outer WithinTx and returns its result.
		outer     func(ctx context.Context, s store) error
		wantUsers []string
	}{
		{
			name: "the outer call ignores the inner call's error",
			outer: func(ctx context.Context, s store) error {
				if err := create(ctx, s, "ann@example.com"); err != nil {
					return err
				}
				err := s.tx.WithinTx(ctx, func(ctx context.Context) error {
					if err := create(ctx, s, "bob@example.com"); err != nil {
						return err
					}
					return errFn
				})
				if !errors.Is(err, errFn) {
					return fmt.Errorf("inner WithinTx = %w, want fn's error", err)
				}
				return nil
			},
			wantUsers: []string{"ann@example.com"},
		},
		{
			name: "the outer call carries on after the database refused the inner write",
			outer: func(ctx context.Context, s store) error {
				if err := create(ctx, s, "ann@example.com"); err != nil {
					return err
				}
				err := s.tx.WithinTx(ctx, func(ctx context.Context) error { return create(ctx, s, "ANN@example.com") })
				var conflict *services.ConflictError
				if !errors.As(err, &conflict) {
					return fmt.Errorf("inner WithinTx = %w, want a conflict", err)
				}
				return create(ctx, s, "carol@example.com")
			},
			wantUsers: []string{"ann@example.com", "carol@example.com"},
		},
	}
	for _, tt := range tests {
		for _, c := range contexts {
			t.Run(tt.name+"/"+c.name, func(t *testing.T) {
				s := newStore(t)
				p, err := c.run(s.db, func(ctx context.Context) error {
					return s.tx.WithinTx(ctx, func(ctx context.Context) error { return tt.outer(ctx, s) })
				})
				if err != nil || p != nil {
					t.Fatalf("WithinTx = %v, panic %v", err, p)
				}
				var emails []string
				if err := s.db.SelectContext(context.Background(), &emails, "SELECT email FROM users ORDER BY email"); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(emails, tt.wantUsers) {
					t.Fatalf("committed users = %q, want %q", emails, tt.wantUsers)
				}
				s.wantReleased(t)
			})
		}
	}
}

func TestUnitOfWorkCleanupRollsBackWhatWasNotCommitted(t *testing.T) {
	s := newStore(t)
	u, cleanup := repositories.NewUnitOfWork(s.db, repositories.NewSlots(s.db))
	ctx := u.Attach(context.Background())

	// A panic leaves the request's transaction begun and neither committed
	// nor rolled back: only the cleanup can end it.
	func() {
		defer func() { _ = recover() }()
		_ = s.tx.WithinTx(ctx, func(ctx context.Context) error {
			if err := s.writeUserAndItem(ctx, "ann@example.com"); err != nil {
				t.Errorf("write: %v", err)
			}
			panic("boom")
		})
	}()
	if n := s.db.Stats().InUse; n != 1 {
		t.Fatalf("%d connections in use before the cleanup, want the transaction's 1", n)
	}
	s.wantRows(t, 0, 0)

	cleanup()
	s.wantReleased(t)
	s.wantRows(t, 0, 0)
	cleanup() // a second run must be harmless

	// The unit of work no longer hands out the dead transaction.
	if _, _, err := s.users.List(ctx, services.Page{Limit: 10}); err != nil {
		t.Fatalf("read after the cleanup: %v", err)
	}
	if err := s.tx.WithinTx(ctx, func(ctx context.Context) error { return s.writeUserAndItem(ctx, "bob@example.com") }); err != nil {
		t.Fatalf("transaction after the cleanup: %v", err)
	}
	s.wantRows(t, 1, 1)
	s.wantReleased(t)
}

func TestReadsOutsideTxOpenNoTransaction(t *testing.T) {
	s := newStore(t)
	if err := s.writeUserAndItem(context.Background(), "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	u, cleanup := repositories.NewUnitOfWork(s.db, repositories.NewSlots(s.db))
	defer cleanup()
	ctx := u.Attach(context.Background())

	users, total, err := s.users.List(ctx, services.Page{Limit: 10})
	if err != nil || total != 1 {
		t.Fatalf("List users = %v, %d, %v", users, total, err)
	}
	if _, err := s.users.Get(ctx, users[0].ID); err != nil {
		t.Fatalf("Get user: %v", err)
	}
	if _, _, err := s.items.List(ctx, services.ItemFilter{}, services.Page{Limit: 10}); err != nil {
		t.Fatalf("List items: %v", err)
	}
	// A transaction would hold its connection until the cleanup.
	s.wantReleased(t)
	var open int
	err = s.db.GetContext(context.Background(), &open, `
		SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND state LIKE 'idle in transaction%'`)
	if err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		t.Fatalf("%d sessions are idle in a transaction after plain reads", open)
	}
}

func TestUserEmailConflict(t *testing.T) {
	tests := []struct {
		name  string
		write func(ctx context.Context, s store) error
	}{
		{"create with the same email", func(ctx context.Context, s store) error {
			_, err := s.users.Create(ctx, services.NewUser{Email: "ann@example.com", Name: "Ann 2", PasswordHash: "x"})
			return err
		}},
		{"create with the email in another case", func(ctx context.Context, s store) error {
			_, err := s.users.Create(ctx, services.NewUser{Email: "ANN@Example.COM", Name: "Ann 2", PasswordHash: "x"})
			return err
		}},
		{"update to the email in another case", func(ctx context.Context, s store) error {
			bob, err := s.users.Create(ctx, services.NewUser{Email: "bob@example.com", Name: "Bob", PasswordHash: "x"})
			if err != nil {
				return fmt.Errorf("create bob: %w", err)
			}
			email := "Ann@Example.com"
			_, err = s.users.Update(ctx, bob.ID, services.UserChanges{Email: &email})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			ctx := context.Background()
			if _, err := s.users.Create(ctx, services.NewUser{Email: "ann@example.com", Name: "Ann", PasswordHash: "x"}); err != nil {
				t.Fatal(err)
			}
			err := tt.write(ctx, s)
			var conflict *services.ConflictError
			if !errors.As(err, &conflict) || *conflict != (services.ConflictError{Resource: "user", Field: "email"}) {
				t.Fatalf("err = %v, want ConflictError{user, email}", err)
			}
		})
	}
}

func TestMissingRowsAreNotFound(t *testing.T) {
	const missing = 999
	name := "x"
	tests := []struct {
		name string
		call func(ctx context.Context, s store) error
	}{
		{"get user", func(ctx context.Context, s store) error { _, err := s.users.Get(ctx, missing); return err }},
		{"update user", func(ctx context.Context, s store) error {
			_, err := s.users.Update(ctx, missing, services.UserChanges{Name: &name})
			return err
		}},
		{"lock user", func(ctx context.Context, s store) error { return s.users.LockForDelete(ctx, missing) }},
		{"delete user", func(ctx context.Context, s store) error { return s.users.Delete(ctx, missing) }},
		{"credentials", func(ctx context.Context, s store) error {
			_, err := s.users.Credentials(ctx, "nobody@example.com")
			return err
		}},
		{"get item", func(ctx context.Context, s store) error { _, err := s.items.Get(ctx, missing); return err }},
		{"item owner", func(ctx context.Context, s store) error { _, err := s.items.Owner(ctx, missing); return err }},
		{"update item", func(ctx context.Context, s store) error {
			_, err := s.items.UpdateOwned(ctx, missing, 1, services.ItemChanges{Name: &name})
			return err
		}},
		{"delete item", func(ctx context.Context, s store) error { return s.items.DeleteOwned(ctx, missing, 1) }},
	}
	s := newStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(context.Background(), s); !errors.Is(err, services.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
}
