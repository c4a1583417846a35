package services_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/example/apitemplate/services"
)

// A pool with one worker and a short queue timeout, at a cost high enough
// that a hash is sure to outlast the timeout.
func slowHasher(timeout time.Duration) *services.PasswordHasher {
	return services.NewPasswordHasher(services.AuthConfig{BcryptCost: 10, HashWorkers: 1, HashQueueTimeout: timeout})
}

func TestHasherRefusesWhenNoWorkerComesFree(t *testing.T) {
	h := slowHasher(20 * time.Millisecond)
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		close(started)
		if _, err := h.Hash(context.Background(), "the first one"); err != nil {
			t.Errorf("the first hash: %v", err)
		}
	})
	<-started
	for h.Stats().Busy == 0 {
		time.Sleep(time.Millisecond)
	}
	_, err := h.Hash(context.Background(), "the second one")
	var busy *services.BusyError
	if !errors.As(err, &busy) || busy.RetryAfter < time.Second {
		t.Fatalf("Hash while the only worker is busy = %v, want a BusyError with a Retry-After of a second or more", err)
	}
	if _, err := h.Matches(context.Background(), "$2a$04$x", "a check"); !errors.As(err, &busy) {
		t.Fatalf("Matches while the only worker is busy = %v, want a BusyError", err)
	}
	wg.Wait()
	if s := h.Stats(); s.Workers != 1 || s.Busy != 0 || s.Queued != 0 || s.Waits != 2 || s.Rejected != 2 {
		t.Fatalf("Stats() = %+v, want 1 worker, nothing busy or queued, 2 waits, 2 rejected", s)
	}
}

func TestHasherQueueKeepsTheOrderOfArrival(t *testing.T) {
	h := services.NewPasswordHasher(services.AuthConfig{BcryptCost: 7, HashWorkers: 1, HashQueueTimeout: time.Minute})
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	for i := range 5 {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "password"); err != nil {
				t.Errorf("hash %d: %v", i, err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
		// Each joins the queue before the next starts.
		for h.Stats().Busy+h.Stats().Queued < int64(i+1) {
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("hashed in the order %v, want the order of arrival", order)
		}
	}
}

// A request whose client has gone leaves the queue, and is not counted as
// refused for want of a worker.
func TestHasherQueueLetsCancelledRequestsGo(t *testing.T) {
	h := slowHasher(time.Minute)
	go func() { _, _ = h.Hash(context.Background(), "holds the worker") }()
	for h.Stats().Busy == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := h.Hash(ctx, "gone")
	var busy *services.BusyError
	if !errors.Is(err, context.Canceled) || errors.As(err, &busy) {
		t.Fatalf("Hash of a cancelled request = %v, want context.Canceled", err)
	}
	if s := h.Stats(); s.Rejected != 0 || s.Queued != 0 {
		t.Fatalf("Stats() = %+v, want nothing rejected or queued", s)
	}
}

func TestHasherMatches(t *testing.T) {
	h := testHasher()
	hash, err := h.Hash(context.Background(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for password, want := range map[string]bool{"correct horse": true, "wrong horse": false} {
		if ok, err := h.Matches(context.Background(), hash, password); ok != want || err != nil {
			t.Errorf("Matches(%q) = %v, %v; want %v", password, ok, err, want)
		}
	}
}
