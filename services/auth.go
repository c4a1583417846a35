package services

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
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
	RefreshTTL       time.Duration // lifetime of a refresh token
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
	UserID          int64
	Email           string
	PasswordHash    string
	TokenGeneration int64
}

// Identity is what a protected request needs to know about the user its
// token names: what they may do, and which tokens are still theirs.
type Identity struct {
	Role            Role
	TokenGeneration int64 // access tokens of an older generation are void
}

// CredentialStore finds accounts for login, says who a token's user is,
// and changes passwords.
type CredentialStore interface {
	Credentials(ctx context.Context, email string) (Credentials, error)
	CredentialsOf(ctx context.Context, id int64) (Credentials, error)
	// Identity reports ErrNotFound for a user who no longer exists.
	Identity(ctx context.Context, id int64) (Identity, error)
	// SetPassword stores a new hash and moves the token generation on,
	// returning the new one.
	SetPassword(ctx context.Context, id int64, hash string) (int64, error)
}

// RefreshToken is a stored refresh token: only its hash is kept.
type RefreshToken struct {
	ID        int64
	FamilyID  int64
	UserID    int64
	ExpiresAt time.Time
	Rotated   bool
}

// RefreshTokens keeps the refresh tokens of every session. A family is the
// chain of tokens one login started.
type RefreshTokens interface {
	// Issue stores a token's hash in family (0: a new family).
	Issue(ctx context.Context, userID, family int64, hash []byte, expires time.Time) error
	// Lock finds the token with hash and holds it until the transaction
	// ends, or reports ErrNotFound.
	Lock(ctx context.Context, hash []byte) (RefreshToken, error)
	MarkRotated(ctx context.Context, id int64) error
	DeleteFamily(ctx context.Context, family int64) error
	// DeleteFamilyOf deletes the family of the token with hash, if it is
	// userID's.
	DeleteFamilyOf(ctx context.Context, userID int64, hash []byte) error
	DeleteUser(ctx context.Context, userID int64) error
	// Prune removes at most limit tokens that expired before before.
	Prune(ctx context.Context, before time.Time, limit int) error
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

// Tokens is what a login or a refresh returns: a short-lived access token
// and the refresh token that gets the next one.
type Tokens struct {
	Access       string
	ExpiresIn    time.Duration
	RefreshToken string
}

// prunedTokensPerRefresh bounds the expired refresh tokens one login or
// refresh removes, so that none pays for many and the table stays about as
// small as the live sessions.
const prunedTokensPerRefresh = 16

// AuthService logs users in, keeps their sessions, and verifies their
// tokens.
type AuthService struct {
	// keyLocks line up, within this process, the attempts on one throttle
	// key before they go to the database, where an advisory lock lines
	// them up across replicas: a flood of logins on one email then waits
	// here, holding nothing, instead of holding a pool connection each
	// while it waits for the database's lock.
	keyLocks [64]chan struct{} // each holds one token: a lock a waiter can give up on

	cfg       AuthConfig
	creds     CredentialStore
	failures  LoginFailures
	refresh   RefreshTokens
	tx        Transactor
	hasher    *PasswordHasher
	dummyHash func() string
	now       func() time.Time
}

func NewAuthService(cfg AuthConfig, creds CredentialStore, failures LoginFailures, refresh RefreshTokens, tx Transactor, hasher *PasswordHasher) (*AuthService, error) {
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d..%d", cfg.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	s := &AuthService{cfg: cfg, creds: creds, failures: failures, refresh: refresh, tx: tx, hasher: hasher, now: time.Now}
	for i := range s.keyLocks {
		s.keyLocks[i] = make(chan struct{}, 1)
	}
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

// Login checks an email and password and starts a session: an access
// token and the first refresh token of a new family. Unknown email and wrong
// password fail alike with ErrInvalidCredentials.
func (s *AuthService) Login(ctx context.Context, email, password, clientAddr string) (Tokens, error) {
	creds, err := s.creds.Credentials(ctx, email)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	known := err == nil
	if !known {
		creds = Credentials{Email: email, PasswordHash: s.dummyHash()}
	}
	if err := s.checkPassword(ctx, creds, password, clientAddr); err != nil {
		if errors.Is(err, errWrongPassword) {
			return Tokens{}, ErrInvalidCredentials
		}
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	if !known {
		return Tokens{}, ErrInvalidCredentials
	}
	return s.startSession(ctx, creds.UserID, creds.TokenGeneration, 0)
}

var errWrongPassword = errors.New("wrong password")

// checkPassword checks password against creds under the login throttle:
// an attempt counts against the account's email and the client's address
// before the password is checked, stays a failure when it is wrong
// (errWrongPassword), and is taken back otherwise.
func (s *AuthService) checkPassword(ctx context.Context, creds Credentials, password, clientAddr string) error {
	emailKey, addrKey := "email:"+creds.Email, "addr:"+clientAddr
	claims, err := s.claim(ctx, []string{emailKey, addrKey})
	if err != nil {
		return err
	}
	// The bookkeeping below must finish even if the client hangs up: a claim
	// left behind would count as a failed login.
	keep := context.WithoutCancel(ctx)
	matched, err := s.hasher.Matches(ctx, creds.PasswordHash, password)
	if err != nil {
		// No password was checked (no worker free): not a failure.
		return errors.Join(err, s.failures.Release(keep, claims))
	}
	if !matched {
		return errWrongPassword // the claims stay as the failure
	}
	if err := s.failures.Release(keep, claims[1:]); err != nil {
		return err
	}
	return s.failures.Clear(keep, emailKey)
}

// lockKeys takes the in-process locks of keys, in one order, so that two
// attempts sharing keys never wait for each other in a cycle. A request
// whose client has gone stops waiting.
func (s *AuthService) lockKeys(ctx context.Context, keys []string) (unlock func(), err error) {
	var stripes []int
	for _, k := range keys {
		h := fnv.New32a()
		_, _ = h.Write([]byte(k)) // a hash.Hash never fails to write
		stripes = append(stripes, int(h.Sum32()%uint32(len(s.keyLocks))))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	held := 0
	unlock = func() {
		for _, i := range stripes[:held] {
			<-s.keyLocks[i]
		}
	}
	for _, i := range stripes {
		select {
		case s.keyLocks[i] <- struct{}{}:
			held++
		case <-ctx.Done():
			unlock()
			return nil, fmt.Errorf("wait for the login throttle: %w", ctx.Err())
		}
	}
	return unlock, nil
}

// startSession issues an access token and a refresh token in family (0: a
// new one).
func (s *AuthService) startSession(ctx context.Context, userID, generation, family int64) (Tokens, error) {
	now := s.now()
	refresh, hash, err := newRefreshToken()
	if err != nil {
		return Tokens{}, err
	}
	if err := s.refresh.Issue(ctx, userID, family, hash, now.Add(s.cfg.RefreshTTL)); err != nil {
		return Tokens{}, fmt.Errorf("session: %w", err)
	}
	access, err := s.issue(userID, generation, now)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{Access: access, ExpiresIn: s.cfg.TokenTTL, RefreshToken: refresh}, nil
}

// newRefreshToken is 256 random bits, and the hash that is all the database
// keeps of it.
func newRefreshToken() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("refresh token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	return token, tokenHash(token), nil
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Refresh exchanges a refresh token for new tokens of the same session;
// the token sent stops working. A token that was already exchanged means
// that two parties hold it, one of them a thief: the whole session ends.
// Two refreshes of one token at the same moment are one of those: the
// first wins, the second ends the session.
func (s *AuthService) Refresh(ctx context.Context, token string) (Tokens, error) {
	now := s.now()
	if err := s.refresh.Prune(ctx, now, prunedTokensPerRefresh); err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	var (
		tokens Tokens
		reused bool
	)
	err := s.tx.ExecTx(ctx, func(ctx context.Context) error {
		rt, err := s.refresh.Lock(ctx, tokenHash(token))
		switch {
		case errors.Is(err, ErrNotFound):
			return ErrUnauthenticated
		case err != nil:
			return err
		case rt.Rotated:
			reused = true
			return s.refresh.DeleteFamily(ctx, rt.FamilyID)
		case !now.Before(rt.ExpiresAt):
			return ErrUnauthenticated
		}
		id, err := s.creds.Identity(ctx, rt.UserID)
		if err != nil {
			return err
		}
		if err := s.refresh.MarkRotated(ctx, rt.ID); err != nil {
			return err
		}
		tokens, err = s.startSession(ctx, rt.UserID, id.TokenGeneration, rt.FamilyID)
		return err
	})
	switch {
	case reused:
		return Tokens{}, ErrUnauthenticated
	case err != nil:
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	return tokens, nil
}

// Logout ends the session the refresh token belongs to, if it is the
// caller's; any other token is ignored, to reveal nothing.
func (s *AuthService) Logout(ctx context.Context, caller Caller, token string) error {
	if err := s.refresh.DeleteFamilyOf(ctx, caller.UserID, tokenHash(token)); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// ChangePassword replaces the caller's password, after checking the
// current one under the login throttle (a wrong one is ErrForbidden and
// counts as a failed login). Every session of the caller ends, and every
// access token issued before fails from then on.
func (s *AuthService) ChangePassword(ctx context.Context, caller Caller, current, next, clientAddr string) error {
	creds, err := s.creds.CredentialsOf(ctx, caller.UserID)
	if errors.Is(err, ErrNotFound) {
		return ErrUnauthenticated // deleted since the token was checked
	}
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	switch err := s.checkPassword(ctx, creds, current, clientAddr); {
	case errors.Is(err, errWrongPassword):
		return ErrForbidden
	case err != nil:
		return fmt.Errorf("change password: %w", err)
	}
	hash, err := s.hasher.Hash(ctx, next) // before the transaction: no connection waits on it
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	err = s.tx.ExecTx(ctx, func(ctx context.Context) error {
		if _, err := s.creds.SetPassword(ctx, caller.UserID, hash); err != nil {
			return err
		}
		return s.refresh.DeleteUser(ctx, caller.UserID)
	})
	if errors.Is(err, ErrNotFound) {
		return ErrUnauthenticated
	}
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

// claim counts an attempt against each key, in keys' order, unless a key
// is already at its limit: then it returns a ThrottledError saying how long
// to wait. Concurrent attempts on a key are counted one after the other, so
// however many arrive at once, no more than the limit get through.
func (s *AuthService) claim(ctx context.Context, keys []string) ([]int64, error) {
	unlock, err := s.lockKeys(ctx, keys)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now := s.now() // after the wait: the window is the one the count sees
	if err := s.failures.Prune(ctx, now.Add(-s.cfg.FailWindow)); err != nil {
		return nil, err
	}
	limits := []int{s.cfg.MaxPerEmail, s.cfg.MaxPerAddr}
	var claims []int64
	err = s.tx.ExecTx(ctx, func(ctx context.Context) error {
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

// accessClaims are an access token's claims: the registered ones, and the
// token generation of the user at issue.
type accessClaims struct {
	jwt.RegisteredClaims
	Generation int64 `json:"gen"`
}

func (s *AuthService) issue(userID, generation int64, now time.Time) (string, error) {
	// A token id of its own, so that two tokens issued in one second (a
	// login and the refresh right after it) are two tokens, not one.
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        base64.RawURLEncoding.EncodeToString(id),
			Subject:   strconv.FormatInt(userID, 10),
			Issuer:    s.cfg.Issuer,
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.TokenTTL)),
		},
		Generation: generation,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.JWTSecret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}

// Authenticate verifies a bearer token and returns the caller it was issued
// to, who must still exist, with the role they have now; a token issued
// before their last password change fails.
func (s *AuthService) Authenticate(ctx context.Context, token string) (Caller, error) {
	if token == "" {
		return Caller{}, ErrUnauthenticated
	}
	var claims accessClaims
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
	identity, err := s.creds.Identity(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return Caller{}, ErrUnauthenticated
	case err != nil:
		return Caller{}, fmt.Errorf("authenticate: %w", err)
	case identity.TokenGeneration != claims.Generation:
		return Caller{}, ErrUnauthenticated
	}
	return Caller{UserID: id, Role: identity.Role}, nil
}
