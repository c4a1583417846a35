package repositories

import (
	"context"
	"sync/atomic"
	"time"
)

// Session is one request's use of the database: the time it may spend
// there (DB_QUERY_TIMEOUT), and what it spent. Only time on the database
// counts: queueing for a connection, running statements, holding a
// transaction open. Time the request spends anywhere else (hashing a
// password, waiting for a CPU) does not, so a busy server never makes a
// healthy database look unreachable.
type Session struct {
	budget     time.Duration
	spentNS    atomic.Int64
	statements atomic.Int64
}

// SessionObserver learns what each session spent on the database, when it
// ends: what the metrics make of statements per request and database time
// per request.
type SessionObserver interface {
	ObserveSession(statements int64, spent time.Duration)
}

// NewSession starts a request's session with d's time budget. Its cleanup
// ends it, telling o (when not nil) what it spent.
func NewSession(d *Data, o SessionObserver) (*Session, func()) {
	s := &Session{budget: d.timeout}
	return s, func() {
		if o != nil {
			o.ObserveSession(s.Usage())
		}
	}
}

type sessionKey struct{}

// Context returns ctx carrying s, so that the statements made with it are
// bounded, and counted, by s.
func (s *Session) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// Usage returns how many statements and transactions the session made and
// the time they took.
func (s *Session) Usage() (statements int64, spent time.Duration) {
	return s.statements.Load(), time.Duration(s.spentNS.Load())
}

func sessionOf(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}

func (s *Session) remaining() time.Duration {
	return s.budget - time.Duration(s.spentNS.Load())
}

// spend counts the time since start; a nil Session counts nothing.
func (s *Session) spend(start time.Time) {
	if s == nil {
		return
	}
	s.statements.Add(1)
	s.spentNS.Add(int64(time.Since(start)))
}
