package services

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/semaphore"
)

// PasswordHasher hashes and checks passwords with bcrypt, on a bounded
// number of workers. A bcrypt hash at cost 12 is about a third of a second
// of one CPU, so without a bound a burst of sign-ups or logins would start
// every hash at once, share the CPUs between all of them, and finish none
// in time, while every other request waited for a CPU too. With the bound,
// the hashes in hand run at full speed, the others queue in arrival order,
// and one that cannot get a worker within the queue timeout fails with a
// BusyError (503 "the server is busy") instead of slowing the rest.
type PasswordHasher struct {
	cost    int
	workers *semaphore.Weighted
	size    int
	wait    time.Duration

	busy     atomic.Int64
	queued   atomic.Int64
	waits    atomic.Int64
	waitedNS atomic.Int64
	rejected atomic.Int64
	done     atomic.Int64
	lastNS   atomic.Int64 // how long the last hash took, to estimate Retry-After
}

// HasherStats is a moment of the pool's state, for the metrics.
type HasherStats struct {
	Workers  int           // the bound
	Busy     int64         // hashing now
	Queued   int64         // waiting for a worker now
	Waits    int64         // requests that had to wait, since start
	Waited   time.Duration // and how long, in all
	Rejected int64         // requests that got no worker in time
	Done     int64         // hashes made or checked, since start
}

// NewPasswordHasher returns a hasher at cfg.BcryptCost with cfg.HashWorkers
// workers (at least one) and cfg.HashQueueTimeout for a request to get one.
func NewPasswordHasher(cfg AuthConfig) *PasswordHasher {
	n := max(cfg.HashWorkers, 1)
	return &PasswordHasher{
		cost:    cfg.BcryptCost,
		workers: semaphore.NewWeighted(int64(n)),
		size:    n,
		wait:    cfg.HashQueueTimeout,
	}
}

// Hash returns the bcrypt hash of password.
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	var (
		hash []byte
		err  error
	)
	if werr := h.run(ctx, func() { hash, err = bcrypt.GenerateFromPassword([]byte(password), h.cost) }); werr != nil {
		return "", werr
	}
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(hash), nil
}

// Matches reports whether password is the one hash was made from. The
// error is a BusyError, or the context's, when no worker was had.
func (h *PasswordHasher) Matches(ctx context.Context, hash, password string) (bool, error) {
	var ok bool
	if err := h.run(ctx, func() { ok = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil }); err != nil {
		return false, err
	}
	return ok, nil
}

// Stats returns the pool's state now.
func (h *PasswordHasher) Stats() HasherStats {
	return HasherStats{
		Workers: h.size, Busy: h.busy.Load(), Queued: h.queued.Load(),
		Waits: h.waits.Load(), Waited: time.Duration(h.waitedNS.Load()), Rejected: h.rejected.Load(), Done: h.done.Load(),
	}
}

// run runs fn on a worker, waiting for one in arrival order for at most
// the queue timeout. A request whose client has gone leaves the queue.
func (h *PasswordHasher) run(ctx context.Context, fn func()) error {
	// A traced request shows its hashing, queue included, as a span; the
	// tracer comes from the request's span, a no-op one otherwise.
	ctx, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("services").Start(ctx, "password.hash")
	defer span.End()
	// A request that cannot have a worker waits for one, rather than being
	// refused at once when the queue looks too long: a refusal costs little,
	// so clients that retry at once would make thousands a second, and they
	// took half the CPU the hashes needed (docs/performance.md, Sign-up
	// floods). Waiting holds only a goroutine and the client's connection.
	if !h.workers.TryAcquire(1) {
		h.queued.Add(1)
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, h.wait)
		err := h.workers.Acquire(wctx, 1)
		cancel()
		h.queued.Add(-1)
		h.waits.Add(1)
		h.waitedNS.Add(int64(time.Since(start)))
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("wait for a password worker: %w", ctx.Err())
			}
			h.rejected.Add(1)
			return &BusyError{RetryAfter: h.retryAfter()}
		}
	}
	h.busy.Add(1)
	start := time.Now()
	defer func() {
		h.lastNS.Store(int64(time.Since(start)))
		h.done.Add(1)
		h.busy.Add(-1)
		h.workers.Release(1)
	}()
	fn()
	return nil
}

// expectedWait is about how long a request arriving now would wait for a
// worker: the queue ahead of it, worked off at the pace of the last hash.
func (h *PasswordHasher) expectedWait() time.Duration {
	ahead := float64(h.queued.Load())/float64(h.size) + 1
	return time.Duration(ahead * float64(h.lastNS.Load()))
}

// retryAfter is about when the queue ahead of a new request will have
// drained, at least a second.
func (h *PasswordHasher) retryAfter() time.Duration {
	d := h.expectedWait()
	return max(time.Second, time.Duration(math.Ceil(d.Seconds()))*time.Second)
}
