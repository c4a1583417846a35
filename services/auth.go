package services

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// AuthConfig holds the settings of login, tokens and password hashing.
type AuthConfig struct {
	JWTSecret        []byte        // HS256 key; at least 32 bytes in production
	TokenTTL         time.Duration // lifetime of an access token
	Issuer           string        // iss claim, checked on every token
	Audience         string        // aud claim, checked on every token
	BcryptCost       int           // at least 10 outside tests
	HashWorkers      int           // passwords hashed at once
	HashQueueTimeout time.Duration // the longest a request waits for a hashing worker
	MaxPerEmail      int           // failed logins per email per window before 429
	MaxPerAddr       int           // failed logins per client address per window before 429
	FailWindow       time.Duration // the throttling window
}

// tokenLeeway absorbs clock skew between replicas without letting an expired
// token live on noticeably.
const tokenLeeway = 30 * time.Second

// Credentials is what login needs to know about an account.
type Credentials struct {
	UserID       int64
	PasswordHash string
}

// CredentialStore finds accounts for login and checks that one still exists.
type CredentialStore interface {
	Credentials(ctx context.Context, email string) (Credentials, error)
	Exists(ctx context.Context, id int64) (bool, error)
}

// LoginFailures remembers failed logins so that guessing can be throttled.
// Its state lives in the database so every replica sees the same counts.
type LoginFailures interface {
	// Recent locks keys until the transaction ends, so that concurrent
	// attempts on a key are counted one after the other, and returns each
	// key's failures since since.
	Recent(ctx context.Context, keys []string, since time.Time) (map[string]FailureCount, error)
	// Claim records an attempt against each key, before its password is
	// checked: one that is not released stays a failure.
	Claim(ctx context.Context, keys []string, at time.Time) ([]int64, error)
	// Release takes back claims: those attempts did not fail.
	Release(ctx context.Context, claims []int64) error
	Clear(ctx context.Context, key string) error
	// Prune forgets failures older than before.
	Prune(ctx context.Context, before time.Time) error
}

// FailureCount is the failed-login history of one key within the window.
type FailureCount struct {
	Count  int
	Oldest time.Time
}

// AccessToken is what a successful login returns.
type AccessToken struct {
	Token     string
	ExpiresIn time.Duration
}

// AuthService logs users in and verifies their tokens.
type AuthService struct {
	cfg       AuthConfig
	creds     CredentialStore
	failures  LoginFailures
	tx        Transactor
	hasher    *PasswordHasher
	dummyHash func() string
	now       func() time.Time
}

func NewAuthService(cfg AuthConfig, creds CredentialStore, failures LoginFailures, tx Transactor, hasher *PasswordHasher) (*AuthService, error) {
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d..%d", cfg.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	s := &AuthService{cfg: cfg, creds: creds, failures: failures, tx: tx, hasher: hasher, now: time.Now}
	// Checking a password against this hash when the email is unknown makes
	// both failure paths cost the same, so timing does not reveal accounts.
	// Making it takes as long as a login, so it runs beside start-up instead
	// of delaying readiness; the first login that needs it waits for it.
	s.dummyHash = sync.OnceValue(func() string {
		h, _ := bcrypt.GenerateFromPassword([]byte("not a real password, only spends time"), cfg.BcryptCost) // the cost is valid, checked above
		return string(h)
	})
	go s.dummyHash()
	return s, nil
}

// Login checks an email and password and issues an access token. Unknown
// email and wrong password fail alike with ErrInvalidCredentials.
func (s *AuthService) Login(ctx context.Context, email, password, clientAddr string) (AccessToken, error) {
	emailKey, addrKey := "email:"+email, "addr:"+clientAddr
	now := s.now()
	claims, err := s.claim(ctx, []string{emailKey, addrKey}, now)
	if err != nil {
		return AccessToken{}, fmt.Errorf("login: %w", err)
	}
	// The bookkeeping below must finish even if the client hangs up: a claim
	// left behind would count as a failed login.
	keep := context.WithoutCancel(ctx)

	creds, err := s.creds.Credentials(ctx, email)
	var matched bool
	switch {
	case errors.Is(err, ErrNotFound):
		_, err = s.hasher.Matches(ctx, s.dummyHash(), password)
	case err == nil:
		matched, err = s.hasher.Matches(ctx, creds.PasswordHash, password)
	}
	if err != nil {
		// No password was checked (no worker, no database): not a failure.
		return AccessToken{}, errors.Join(fmt.Errorf("login: %w", err), s.failures.Release(keep, claims))
	}
	if !matched {
		return AccessToken{}, ErrInvalidCredentials // the claims stay as the failure
	}
	if err := s.failures.Release(keep, claims[1:]); err != nil {
		return AccessToken{}, fmt.Errorf("login: %w", err)
	}
	if err := s.failures.Clear(keep, emailKey); err != nil {
		return AccessToken{}, fmt.Errorf("login: %w", err)
	}
	return s.issue(creds.UserID, now)
}

// claim counts an attempt against each key, in keys' order, unless a key
// is already at its limit: then it returns a ThrottledError saying how long
// to wait. Concurrent attempts on a key are counted one after the other, so
// however many arrive at once, no more than the limit get through.
func (s *AuthService) claim(ctx context.Context, keys []string, now time.Time) ([]int64, error) {
	if err := s.failures.Prune(ctx, now.Add(-s.cfg.FailWindow)); err != nil {
		return nil, err
	}
	limits := []int{s.cfg.MaxPerEmail, s.cfg.MaxPerAddr}
	var claims []int64
	err := s.tx.ExecTx(ctx, func(ctx context.Context) error {
		recent, err := s.failures.Recent(ctx, keys, now.Add(-s.cfg.FailWindow))
		if err != nil {
			return err
		}
		var wait time.Duration
		for i, key := range keys {
			if fc := recent[key]; fc.Count >= limits[i] {
				wait = max(wait, fc.Oldest.Add(s.cfg.FailWindow).Sub(now))
			}
		}
		if wait > 0 {
			return &ThrottledError{RetryAfter: wait}
		}
		claims, err = s.failures.Claim(ctx, keys, now)
		return err
	})
	return claims, err
}

func (s *AuthService) issue(userID int64, now time.Time) (AccessToken, error) {
	claims := jwt.RegisteredClaims{
		Subject:   strconv.FormatInt(userID, 10),
		Issuer:    s.cfg.Issuer,
		Audience:  jwt.ClaimStrings{s.cfg.Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.TokenTTL)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.JWTSecret)
	if err != nil {
		return AccessToken{}, fmt.Errorf("sign token: %w", err)
	}
	return AccessToken{Token: signed, ExpiresIn: s.cfg.TokenTTL}, nil
}

// Authenticate verifies a bearer token and returns the caller it was issued
// to, who must still exist.
func (s *AuthService) Authenticate(ctx context.Context, token string) (Caller, error) {
	if token == "" {
		return Caller{}, ErrUnauthenticated
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.cfg.JWTSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithAudience(s.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil {
		return Caller{}, ErrUnauthenticated
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return Caller{}, ErrUnauthenticated
	}
	exists, err := s.creds.Exists(ctx, id)
	if err != nil {
		return Caller{}, fmt.Errorf("authenticate: %w", err)
	}
	if !exists {
		return Caller{}, ErrUnauthenticated
	}
	return Caller{UserID: id}, nil
}
