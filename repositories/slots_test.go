package repositories_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

// newSlottedStore is newStore with a pool of one connection, so a second
// request must wait for the first, and the slots in front of it.
func newSlottedStore(t *testing.T) (store, *repositories.Slots) {
	t.Helper()
	s := newStore(t)
	s.db.SetMaxOpenConns(1)
	return s, repositories.NewSlots(s.db)
}

// holdInTx opens a transaction in a request of its own and keeps it, with
// its slot and connection, until release is closed. It returns once the
// transaction is open.
func holdInTx(t *testing.T, s store, slots *repositories.Slots) (release chan<- struct{}, done <-chan error) {
	t.Helper()
	opened, rel, finished := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		u, cleanup := repositories.NewUnitOfWork(s.db, slots)
		defer cleanup()
		finished <- s.tx.WithinTx(u.Attach(context.Background()), func(ctx context.Context) error {
			close(opened)
			<-rel
			return nil
		})
	}()
	select {
	case <-opened:
	case err := <-finished:
		t.Fatalf("the holding transaction did not open: %v", err)
	}
	return rel, finished
}

// TestSlotsAdmitInArrivalOrder: requests that find every connection busy
// get one in the order they asked. database/sql alone picks a waiter at
// random, which here would put five waiters in order one time in 120.
func TestSlotsAdmitInArrivalOrder(t *testing.T) {
	s, slots := newSlottedStore(t)
	release, held := holdInTx(t, s, slots)

	const waiters = 5
	done := make(chan error, waiters)
	for i := range waiters {
		go func() {
			u, cleanup := repositories.NewUnitOfWork(s.db, slots)
			defer cleanup()
			// The user's id is taken from a sequence while the waiter holds
			// the slot and the pool's only connection, so the ids record the
			// order the waiters were admitted in.
			_, err := s.users.Create(u.Attach(context.Background()), services.NewUser{
				Email: fmt.Sprintf("waiter%d@example.com", i), Name: "W", PasswordHash: "x",
			})
			done <- err
		}()
		// Nothing shows that a goroutine has joined the queue, so each is
		// given ample time to join it before the next one starts.
		time.Sleep(50 * time.Millisecond)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("holding transaction: %v", err)
	}
	for range waiters {
		if err := <-done; err != nil {
			t.Fatalf("waiter: %v", err)
		}
	}
	var admitted []string
	if err := s.db.SelectContext(context.Background(), &admitted, "SELECT email FROM users ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	for i, email := range admitted {
		if want := fmt.Sprintf("waiter%d@example.com", i); email != want {
			t.Fatalf("admitted in the order %v, want arrival order (waiter0 first)", admitted)
		}
	}
	if n := s.db.Stats().WaitCount; n != 0 {
		t.Errorf("database/sql made %d requests wait; the slots should have queued them all", n)
	}
}

// TestSlotsWaitEndsAtTheRequestDeadline: a request that cannot get a slot
// before its deadline fails with the deadline, which answers 503, and a
// transaction keeps its slot until it ends.
func TestSlotsWaitEndsAtTheRequestDeadline(t *testing.T) {
	s, slots := newSlottedStore(t)
	release, held := holdInTx(t, s, slots)

	u, cleanup := repositories.NewUnitOfWork(s.db, slots)
	defer cleanup()
	ctx, cancel := context.WithTimeout(u.Attach(context.Background()), 100*time.Millisecond)
	defer cancel()
	if _, err := s.users.Get(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get while the only connection is in a transaction = %v, want context.DeadlineExceeded", err)
	}

	close(release)
	if err := <-held; err != nil {
		t.Fatalf("holding transaction: %v", err)
	}
	if _, err := s.users.Get(u.Attach(context.Background()), 1); !errors.Is(err, services.ErrNotFound) {
		t.Fatalf("Get after the transaction committed = %v, want ErrNotFound", err)
	}
}

// TestSlotsReleasedWhenATransactionFailsOrPanics: however a transaction
// ends, its slot is free for the next request.
func TestSlotsReleasedWhenATransactionFailsOrPanics(t *testing.T) {
	tests := []struct {
		name string
		fn   func(ctx context.Context) error
	}{
		{"fails", func(context.Context) error { return errFn }},
		{"panics", func(context.Context) error { panic("boom") }},
		{"commits", func(context.Context) error { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, slots := newSlottedStore(t)
			func() {
				defer func() { _ = recover() }()
				u, cleanup := repositories.NewUnitOfWork(s.db, slots)
				defer cleanup()
				_ = s.tx.WithinTx(u.Attach(context.Background()), tt.fn)
			}()
			u, cleanup := repositories.NewUnitOfWork(s.db, slots)
			defer cleanup()
			ctx, cancel := context.WithTimeout(u.Attach(context.Background()), 5*time.Second)
			defer cancel()
			if _, err := s.users.Get(ctx, 1); !errors.Is(err, services.ErrNotFound) {
				t.Fatalf("Get after a transaction that %s = %v, want ErrNotFound (the slot is free)", tt.name, err)
			}
		})
	}
}

// TestNoSlotsForAnUnboundedPool: with no DB_MAX_OPEN_CONNS limit nothing
// waits, so there is nothing to queue.
func TestNoSlotsForAnUnboundedPool(t *testing.T) {
	s := newStore(t)
	s.db.SetMaxOpenConns(0)
	if slots := repositories.NewSlots(s.db); slots != nil {
		t.Fatalf("NewSlots on an unbounded pool = %v, want nil", slots)
	}
}
