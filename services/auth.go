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
	JWTSecret   []byte        // HS256 key; at least 32 bytes in production
	TokenTTL    time.Duration // lifetime of an access token
	Issuer      string        // iss claim, checked on every token
	Audience    string        // aud claim, checked on every token
	BcryptCost  int           // at least 10 outside tests
	MaxPerEmail int           // failed logins per email per window before 429
	MaxPerAddr  int           // failed logins per client address per window before 429
	FailWindow  time.Duration // the throttling window
}

// tokenLeeway absorbs clock skew between replicas without letting an expired
// token live on noticeably.
const tokenLeeway = 30 * time.Second

// PasswordHasher hashes and checks passwords with bcrypt.
type PasswordHasher struct {
	cost int
}

func NewPasswordHasher(cfg AuthConfig) *PasswordHasher {
	return &PasswordHasher{cost: cfg.BcryptCost}
}

func (h *PasswordHasher) Hash(password string) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), h.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(hash), nil
}

// Matches reports whether password is the one hash was made from.
func (h *PasswordHasher) Matches(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

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
	// Claim counts an attempt against each key before its password is
	// checked and returns, for each key, the attempts since since, this one
	// included. Claiming before checking is what makes concurrent guesses
	// see each other; a claim that is not released stays a failure.
	Claim(ctx context.Context, keys []string, at, since time.Time) (map[string]FailureCount, error)
	// Release takes back claims (FailureCount.Claim): those attempts did not fail.
	Release(ctx context.Context, claims []int64) error
	Clear(ctx context.Context, key string) error
}

// FailureCount is the failed-login history of one key within the window.
type FailureCount struct {
	Count  int
	Oldest time.Time
	Claim  int64 // the record this attempt added, to release it by
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
	hasher    *PasswordHasher
	dummyHash func() string
	now       func() time.Time
}

func NewAuthService(cfg AuthConfig, creds CredentialStore, failures LoginFailures, hasher *PasswordHasher) (*AuthService, error) {
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d..%d", cfg.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	s := &AuthService{cfg: cfg, creds: creds, failures: failures, hasher: hasher, now: time.Now}
	// Checking a password against this hash when the email is unknown makes
	// both failure paths cost the same, so timing does not reveal accounts.
	// Making it takes as long as a login, so it runs beside start-up instead
	// of delaying readiness; the first login that needs it waits for it.
	s.dummyHash = sync.OnceValue(func() string {
		h, _ := hasher.Hash("not a real password, only spends time") // the cost is valid, checked above
		return h
	})
	go s.dummyHash()
	return s, nil
}

// Login checks an email and password and issues an access token. Unknown
// email and wrong password fail alike with ErrInvalidCredentials.
func (s *AuthService) Login(ctx context.Context, email, password, clientAddr string) (AccessToken, error) {
	emailKey, addrKey := "email:"+email, "addr:"+clientAddr
	now := s.now()
	claimed, err := s.failures.Claim(ctx, []string{emailKey, addrKey}, now, now.Add(-s.cfg.FailWindow))
	if err != nil {
		return AccessToken{}, fmt.Errorf("login: %w", err)
	}
	// The bookkeeping below must finish even if the client hangs up: a claim
	// left behind would count as a failed login.
	keep := context.WithoutCancel(ctx)
	if wait := s.throttled(claimed, emailKey, addrKey, now); wait > 0 {
		if err := s.failures.Release(keep, []int64{claimed[emailKey].Claim, claimed[addrKey].Claim}); err != nil {
			return AccessToken{}, fmt.Errorf("login: %w", err)
		}
		return AccessToken{}, &ThrottledError{RetryAfter: wait}
	}

	creds, err := s.creds.Credentials(ctx, email)
	switch {
	case errors.Is(err, ErrNotFound):
		s.hasher.Matches(s.dummyHash(), password)
	case err != nil:
		return AccessToken{}, fmt.Errorf("login: %w", err)
	case s.hasher.Matches(creds.PasswordHash, password):
		if err := s.failures.Release(keep, []int64{claimed[addrKey].Claim}); err != nil {
			return AccessToken{}, fmt.Errorf("login: %w", err)
		}
		if err := s.failures.Clear(keep, emailKey); err != nil {
			return AccessToken{}, fmt.Errorf("login: %w", err)
		}
		return s.issue(creds.UserID, now)
	}
	return AccessToken{}, ErrInvalidCredentials // the claim stays as the failure
}

// throttled returns how long the caller must wait, or 0: an attempt is
// refused when, with itself counted, a key is over its limit.
func (s *AuthService) throttled(claimed map[string]FailureCount, emailKey, addrKey string, now time.Time) time.Duration {
	limits := map[string]int{emailKey: s.cfg.MaxPerEmail, addrKey: s.cfg.MaxPerAddr}
	var wait time.Duration
	for key, limit := range limits {
		if fc, ok := claimed[key]; ok && fc.Count > limit {
			wait = max(wait, fc.Oldest.Add(s.cfg.FailWindow).Sub(now))
		}
	}
	return wait
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

// Authenticate verifies a bearer token and returns the id of the user it was
// issued to, who must still exist.
func (s *AuthService) Authenticate(ctx context.Context, token string) (int64, error) {
	if token == "" {
		return 0, ErrUnauthenticated
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
		return 0, ErrUnauthenticated
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return 0, ErrUnauthenticated
	}
	exists, err := s.creds.Exists(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("authenticate: %w", err)
	}
	if !exists {
		return 0, ErrUnauthenticated
	}
	return id, nil
}

// Caller is the identity behind one request. It is made per request from the
// bearer token but verified only when a route asks for it, then remembered.
type Caller struct {
	auth  *AuthService
	token string
	id    int64
	err   error
	known bool
}

func NewCaller(auth *AuthService, bearerToken string) *Caller {
	return &Caller{auth: auth, token: bearerToken}
}

// UserID returns the authenticated user's id, or ErrUnauthenticated.
func (c *Caller) UserID(ctx context.Context) (int64, error) {
	if !c.known {
		c.id, c.err = c.auth.Authenticate(ctx, c.token)
		c.known = true
	}
	return c.id, c.err
}
