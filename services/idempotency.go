package services

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// IdempotencyTTL is how long the first answer to a key is kept.
const IdempotencyTTL = 24 * time.Hour

// prunedPerRequest bounds the expired records one request removes: a few
// each keep the table to about a day of keys, and no request pays for many.
const prunedPerRequest = 16

// Answer is a response as it was first sent, to be sent again to a retry.
type Answer struct {
	Status   int
	Location string
	ETag     string
	Body     []byte
}

// IdempotencyRecord is the first answer to a key and what it answered.
type IdempotencyRecord struct {
	RequestHash []byte
	Answer      Answer
}

// IdempotencyStore keeps the first answer to each key of each scope.
type IdempotencyStore interface {
	// Claim holds the key until the transaction ends, and reports false when
	// another transaction holds it.
	Claim(ctx context.Context, scope, key string) (bool, error)
	// Find returns the record of the key written since since, or ErrNotFound.
	Find(ctx context.Context, scope, key string, since time.Time) (IdempotencyRecord, error)
	// Save stores the record, over an expired one of the same key.
	Save(ctx context.Context, scope, key string, r IdempotencyRecord, expired time.Time) error
	// Prune removes at most limit records written before before.
	Prune(ctx context.Context, before time.Time, limit int) error
}

// IdempotencyService makes a request safe to retry: the first request with
// a key is processed and its answer stored in the same transaction as what
// it created, so that a crash never keeps one without the other; a retry
// gets that answer again.
type IdempotencyService struct {
	store IdempotencyStore
	tx    Transactor
	key   []byte // of the requests' digests
	now   func() time.Time
}

// NewIdempotencyService keys the digests it keeps of requests with one
// derived from the JWT secret: a request may hold a password, and a plain
// hash of it would be a fast one.
func NewIdempotencyService(cfg AuthConfig, store IdempotencyStore, tx Transactor) *IdempotencyService {
	mac := hmac.New(sha256.New, cfg.JWTSecret)
	mac.Write([]byte("idempotency keys"))
	return &IdempotencyService{store: store, tx: tx, key: mac.Sum(nil), now: time.Now}
}

func (s *IdempotencyService) digest(request []byte) []byte {
	mac := hmac.New(sha256.New, s.key)
	mac.Write(request)
	return mac.Sum(nil)
}

// Find returns the answer stored for key in scope, if any. A key stored for
// another request is ErrIdempotencyMismatch.
func (s *IdempotencyService) Find(ctx context.Context, scope, key string, request []byte) (Answer, bool, error) {
	return s.find(ctx, scope, key, s.digest(request))
}

func (s *IdempotencyService) find(ctx context.Context, scope, key string, digest []byte) (Answer, bool, error) {
	r, err := s.store.Find(ctx, scope, key, s.now().Add(-IdempotencyTTL))
	switch {
	case errors.Is(err, ErrNotFound):
		return Answer{}, false, nil
	case err != nil:
		return Answer{}, false, fmt.Errorf("idempotency key: %w", err)
	case !hmac.Equal(r.RequestHash, digest):
		return Answer{}, false, ErrIdempotencyMismatch
	}
	return r.Answer, true, nil
}

// Do answers the request with key in scope: with the stored answer when
// there is one (replayed is true), or else by running fn in a transaction
// that holds the key and stores fn's answer before it commits. While
// another request holds the key, Do fails with ErrIdempotencyInFlight.
func (s *IdempotencyService) Do(ctx context.Context, scope, key string, request []byte, fn func(ctx context.Context) (Answer, error)) (a Answer, replayed bool, err error) {
	now := s.now()
	digest := s.digest(request)
	if err := s.store.Prune(ctx, now.Add(-IdempotencyTTL), prunedPerRequest); err != nil {
		return Answer{}, false, fmt.Errorf("idempotency key: %w", err)
	}
	err = s.tx.ExecTx(ctx, func(ctx context.Context) error {
		claimed, err := s.store.Claim(ctx, scope, key)
		if err != nil {
			return err
		}
		if !claimed {
			return ErrIdempotencyInFlight
		}
		if a, replayed, err = s.find(ctx, scope, key, digest); err != nil || replayed {
			return err
		}
		if a, err = fn(ctx); err != nil {
			return err
		}
		return s.store.Save(ctx, scope, key, IdempotencyRecord{RequestHash: digest, Answer: a}, now.Add(-IdempotencyTTL))
	})
	if err != nil {
		return Answer{}, false, err
	}
	return a, replayed, nil
}
