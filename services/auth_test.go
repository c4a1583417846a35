package services_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/example/apitemplate/services"
)

var testAuthConfig = services.AuthConfig{
	JWTSecret:   []byte("0123456789abcdef0123456789abcdef"),
	TokenTTL:    time.Hour,
	RefreshTTL:  30 * 24 * time.Hour,
	Issuer:      "apitemplate-test",
	Audience:    "apitemplate-clients",
	BcryptCost:  4,
	MaxPerEmail: 3,
	MaxPerAddr:  5,
	FailWindow:  time.Minute,
}

const (
	annEmail    = "ann@example.com"
	annPassword = "correct horse battery staple"
	annID       = 42
	clientAddr  = "192.0.2.7"
)

// fakeCredentials is a services.CredentialStore with one account per email.
type fakeCredentials struct {
	byEmail       map[string]services.Credentials
	identities    map[int64]services.Identity
	identityErr   error
	identityCalls int
}

func (f *fakeCredentials) Credentials(_ context.Context, email string) (services.Credentials, error) {
	c, ok := f.byEmail[email]
	if !ok {
		return services.Credentials{}, services.ErrNotFound
	}
	return c, nil
}

func (f *fakeCredentials) CredentialsOf(_ context.Context, id int64) (services.Credentials, error) {
	for _, c := range f.byEmail {
		if c.UserID == id {
			return c, nil
		}
	}
	return services.Credentials{}, services.ErrNotFound
}

func (f *fakeCredentials) Identity(_ context.Context, id int64) (services.Identity, error) {
	f.identityCalls++
	if f.identityErr != nil {
		return services.Identity{}, f.identityErr
	}
	i, ok := f.identities[id]
	if !ok {
		return services.Identity{}, services.ErrNotFound
	}
	return i, nil
}

func (f *fakeCredentials) SetPassword(_ context.Context, id int64, hash string) (int64, error) {
	for email, c := range f.byEmail {
		if c.UserID == id {
			c.PasswordHash = hash
			c.TokenGeneration++
			f.byEmail[email] = c
			i := f.identities[id]
			i.TokenGeneration = c.TokenGeneration
			f.identities[id] = i
			return c.TokenGeneration, nil
		}
	}
	return 0, services.ErrNotFound
}

// fakeRefresh is a services.RefreshTokens in memory.
type fakeRefresh struct {
	tokens     map[string]services.RefreshToken // by hash
	nextID     int64
	nextFamily int64
}

func (f *fakeRefresh) Issue(_ context.Context, userID, family int64, hash []byte, expires time.Time) error {
	f.nextID++
	if family == 0 {
		f.nextFamily++
		family = f.nextFamily
	}
	f.tokens[string(hash)] = services.RefreshToken{ID: f.nextID, FamilyID: family, UserID: userID, ExpiresAt: expires}
	return nil
}

func (f *fakeRefresh) Lock(_ context.Context, hash []byte) (services.RefreshToken, error) {
	rt, ok := f.tokens[string(hash)]
	if !ok {
		return services.RefreshToken{}, services.ErrNotFound
	}
	return rt, nil
}

func (f *fakeRefresh) MarkRotated(_ context.Context, id int64) error {
	for h, rt := range f.tokens {
		if rt.ID == id {
			rt.Rotated = true
			f.tokens[h] = rt
		}
	}
	return nil
}

func (f *fakeRefresh) deleteWhere(match func(services.RefreshToken) bool) {
	for h, rt := range f.tokens {
		if match(rt) {
			delete(f.tokens, h)
		}
	}
}

func (f *fakeRefresh) DeleteFamily(_ context.Context, family int64) error {
	f.deleteWhere(func(rt services.RefreshToken) bool { return rt.FamilyID == family })
	return nil
}

func (f *fakeRefresh) DeleteFamilyOf(_ context.Context, userID int64, hash []byte) error {
	if rt, ok := f.tokens[string(hash)]; ok && rt.UserID == userID {
		f.deleteWhere(func(o services.RefreshToken) bool { return o.FamilyID == rt.FamilyID })
	}
	return nil
}

func (f *fakeRefresh) DeleteUser(_ context.Context, userID int64) error {
	f.deleteWhere(func(rt services.RefreshToken) bool { return rt.UserID == userID })
	return nil
}

func (f *fakeRefresh) Prune(_ context.Context, before time.Time, _ int) error {
	f.deleteWhere(func(rt services.RefreshToken) bool { return rt.ExpiresAt.Before(before) })
	return nil
}

// fakeFailures is a services.LoginFailures in memory.
type fakeFailures struct {
	records  map[int64]fakeRecord // claims not released or cleared
	nextID   int64
	attempts [][]int64 // claim ids, one slice per Claim call
	cleared  []string
	recent   int // calls of Recent
}

type fakeRecord struct {
	key string
	at  time.Time
}

// fail records n failures of key, the first sinceOldest ago.
func (f *fakeFailures) fail(key string, n int, sinceOldest time.Duration) {
	now := time.Now()
	for i := range n {
		f.nextID++
		f.records[f.nextID] = fakeRecord{key: key, at: now.Add(-sinceOldest + time.Duration(i)*time.Second)}
	}
}

func (f *fakeFailures) Recent(_ context.Context, keys []string, since time.Time) (map[string]services.FailureCount, error) {
	f.recent++
	counts := map[string]services.FailureCount{}
	for _, r := range f.records {
		if !slices.Contains(keys, r.key) || !r.at.After(since) {
			continue
		}
		fc := counts[r.key]
		if fc.Count == 0 || r.at.Before(fc.Oldest) {
			fc.Oldest = r.at
		}
		fc.Count++
		counts[r.key] = fc
	}
	return counts, nil
}

func (f *fakeFailures) Claim(_ context.Context, keys []string, at time.Time) ([]int64, error) {
	ids := make([]int64, len(keys))
	for i, k := range keys {
		f.nextID++
		ids[i] = f.nextID
		f.records[f.nextID] = fakeRecord{key: k, at: at}
	}
	f.attempts = append(f.attempts, ids)
	return ids, nil
}

func (f *fakeFailures) Release(_ context.Context, claims []int64) error {
	for _, id := range claims {
		delete(f.records, id)
	}
	return nil
}

func (f *fakeFailures) Clear(_ context.Context, key string) error {
	f.cleared = append(f.cleared, key)
	for id, r := range f.records {
		if r.key == key {
			delete(f.records, id)
		}
	}
	return nil
}

func (f *fakeFailures) Prune(_ context.Context, before time.Time) error {
	for id, r := range f.records {
		if r.at.Before(before) {
			delete(f.records, id)
		}
	}
	return nil
}

// recorded lists, per login attempt, the keys whose claim still stands:
// the failures that attempt left behind.
func (f *fakeFailures) recorded() [][]string {
	var out [][]string
	for _, ids := range f.attempts {
		var keys []string
		for _, id := range ids {
			if r, ok := f.records[id]; ok {
				keys = append(keys, r.key)
			}
		}
		if len(keys) > 0 {
			out = append(out, keys)
		}
	}
	return out
}

// inPlace is a services.Transactor that runs fn as it is.
type inPlace struct{}

func (inPlace) ExecTx(ctx context.Context, fn func(ctx context.Context) error) error { return fn(ctx) }

type authFixture struct {
	svc      *services.AuthService
	creds    *fakeCredentials
	failures *fakeFailures
	refresh  *fakeRefresh
}

// newAuth returns an AuthService that knows Ann, whose account exists.
func newAuth(t *testing.T) authFixture {
	t.Helper()
	hasher := services.NewPasswordHasher(testAuthConfig)
	hash, err := hasher.Hash(context.Background(), annPassword)
	if err != nil {
		t.Fatal(err)
	}
	f := authFixture{
		creds: &fakeCredentials{
			byEmail:    map[string]services.Credentials{annEmail: {UserID: annID, Email: annEmail, PasswordHash: hash, TokenGeneration: 1}},
			identities: map[int64]services.Identity{annID: {Role: services.RoleUser, TokenGeneration: 1}},
		},
		refresh:  &fakeRefresh{tokens: map[string]services.RefreshToken{}},
		failures: &fakeFailures{records: map[int64]fakeRecord{}},
	}
	f.svc, err = services.NewAuthService(testAuthConfig, f.creds, f.failures, f.refresh, inPlace{}, hasher)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoginIssuesHS256Token(t *testing.T) {
	f := newAuth(t)
	before := time.Now().Truncate(time.Second)
	tok, err := f.svc.Login(context.Background(), annEmail, annPassword, clientAddr)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	after := time.Now()
	if tok.ExpiresIn != testAuthConfig.TokenTTL {
		t.Errorf("ExpiresIn = %s, want %s", tok.ExpiresIn, testAuthConfig.TokenTTL)
	}

	var claims jwt.RegisteredClaims
	parsed, err := jwt.ParseWithClaims(tok.Access, &claims, func(*jwt.Token) (any, error) { return testAuthConfig.JWTSecret, nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		t.Fatalf("token does not verify as HS256 with the secret: %v", err)
	}
	if alg := parsed.Header["alg"]; alg != "HS256" {
		t.Errorf("alg = %v, want HS256", alg)
	}
	if claims.Subject != strconv.Itoa(annID) {
		t.Errorf("sub = %q, want %q", claims.Subject, strconv.Itoa(annID))
	}
	if claims.Issuer != testAuthConfig.Issuer {
		t.Errorf("iss = %q, want %q", claims.Issuer, testAuthConfig.Issuer)
	}
	if !slices.Equal(claims.Audience, jwt.ClaimStrings{testAuthConfig.Audience}) {
		t.Errorf("aud = %q, want [%q]", claims.Audience, testAuthConfig.Audience)
	}
	if claims.IssuedAt == nil || claims.IssuedAt.Before(before) || claims.IssuedAt.After(after) {
		t.Errorf("iat = %v, want between %v and %v", claims.IssuedAt, before, after)
	}
	if claims.ExpiresAt == nil || !claims.ExpiresAt.Equal(claims.IssuedAt.Add(testAuthConfig.TokenTTL)) {
		t.Errorf("exp = %v, want iat + %s", claims.ExpiresAt, testAuthConfig.TokenTTL)
	}

	caller, err := f.svc.Authenticate(context.Background(), tok.Access)
	if err != nil || caller.UserID != annID {
		t.Fatalf("Authenticate(issued token) = %+v, %v; want user %d", caller, err, annID)
	}
}

func TestLoginFailsAlikeForWrongPasswordAndUnknownEmail(t *testing.T) {
	tests := []struct {
		name, email, password string
	}{
		{"wrong password", annEmail, "wrong password"},
		{"unknown email", "nobody@example.com", annPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAuth(t)
			tok, err := f.svc.Login(context.Background(), tt.email, tt.password, clientAddr)
			if !errors.Is(err, services.ErrInvalidCredentials) {
				t.Fatalf("err = %v, want ErrInvalidCredentials", err)
			}
			if errors.Is(err, services.ErrNotFound) {
				t.Fatalf("err = %v reveals that the account does not exist", err)
			}
			if tok.Access != "" {
				t.Fatalf("a failed login returned a token")
			}
			want := [][]string{{"email:" + tt.email, "addr:" + clientAddr}}
			if !slices.EqualFunc(f.failures.recorded(), want, slices.Equal) {
				t.Fatalf("recorded failures = %q, want %q", f.failures.recorded(), want)
			}
			if len(f.failures.cleared) != 0 {
				t.Fatalf("a failed login cleared %q", f.failures.cleared)
			}
		})
	}
}

func TestLoginThrottles(t *testing.T) {
	const sinceOldest = 20 * time.Second
	tests := []struct {
		name      string
		emailFail int
		addrFail  int
		throttled bool
	}{
		{"below both limits", testAuthConfig.MaxPerEmail - 1, testAuthConfig.MaxPerAddr - 1, false},
		{"email at its limit", testAuthConfig.MaxPerEmail, 0, true},
		{"email over its limit", testAuthConfig.MaxPerEmail + 2, 0, true},
		{"address at its limit", 0, testAuthConfig.MaxPerAddr, true},
		{"both at their limits", testAuthConfig.MaxPerEmail, testAuthConfig.MaxPerAddr, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAuth(t)
			f.failures.fail("email:"+annEmail, tt.emailFail, sinceOldest)
			f.failures.fail("addr:"+clientAddr, tt.addrFail, sinceOldest)
			// Even the right password is not looked at while throttled.
			_, err := f.svc.Login(context.Background(), annEmail, annPassword, clientAddr)
			if !tt.throttled {
				if err != nil {
					t.Fatalf("Login below the limits: %v", err)
				}
				return
			}
			var throttled *services.ThrottledError
			if !errors.As(err, &throttled) {
				t.Fatalf("err = %v, want *ThrottledError", err)
			}
			// The wait ends when the oldest failure leaves the window.
			want := testAuthConfig.FailWindow - sinceOldest
			if throttled.RetryAfter <= 0 || throttled.RetryAfter > want || throttled.RetryAfter < want-5*time.Second {
				t.Fatalf("RetryAfter = %s, want about %s", throttled.RetryAfter, want)
			}
			if len(f.failures.recorded()) != 0 || len(f.failures.cleared) != 0 {
				t.Fatalf("a throttled login recorded %q and cleared %q", f.failures.recorded(), f.failures.cleared)
			}
		})
	}
}

func TestLoginThrottlesAfterRepeatedFailures(t *testing.T) {
	f := newAuth(t)
	for i := range testAuthConfig.MaxPerEmail {
		if _, err := f.svc.Login(context.Background(), annEmail, "wrong", clientAddr); !errors.Is(err, services.ErrInvalidCredentials) {
			t.Fatalf("attempt %d: err = %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	_, err := f.svc.Login(context.Background(), annEmail, annPassword, clientAddr)
	var throttled *services.ThrottledError
	if !errors.As(err, &throttled) || throttled.RetryAfter <= 0 {
		t.Fatalf("after %d failures: err = %v, want *ThrottledError with a positive RetryAfter", testAuthConfig.MaxPerEmail, err)
	}
}

func TestLoginSuccessClearsEmailFailures(t *testing.T) {
	f := newAuth(t)
	if _, err := f.svc.Login(context.Background(), annEmail, "wrong", clientAddr); !errors.Is(err, services.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := f.svc.Login(context.Background(), annEmail, annPassword, clientAddr); err != nil {
		t.Fatalf("right password: %v", err)
	}
	// The address key stays: one good account must not reset a guesser's count.
	if want := []string{"email:" + annEmail}; !slices.Equal(f.failures.cleared, want) {
		t.Fatalf("cleared = %q, want %q", f.failures.cleared, want)
	}
	if counts, _ := f.failures.Recent(context.Background(), []string{"addr:" + clientAddr}, time.Now().Add(-time.Minute)); counts["addr:"+clientAddr].Count != 1 {
		t.Fatalf("the address's failure was forgotten")
	}
}

// A login that gets no hashing worker was not a failed guess: its claims
// are released, so the throttle counts only passwords that were checked.
func TestLoginWithoutAWorkerCountsNoFailure(t *testing.T) {
	f := newAuth(t)
	cfg := testAuthConfig
	cfg.BcryptCost, cfg.HashWorkers, cfg.HashQueueTimeout = 10, 1, 10*time.Millisecond
	hasher := services.NewPasswordHasher(cfg)
	svc, err := services.NewAuthService(cfg, f.creds, f.failures, f.refresh, inPlace{}, hasher)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = hasher.Hash(context.Background(), "holds the only worker") }()
	for hasher.Stats().Busy == 0 {
		time.Sleep(time.Millisecond)
	}
	_, err = svc.Login(context.Background(), annEmail, "wrong", clientAddr)
	var busy *services.BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("Login with no worker free = %v, want a BusyError", err)
	}
	if got := f.failures.recorded(); len(got) != 0 {
		t.Fatalf("recorded failures = %q, want none", got)
	}
}

// validClaims returns claims that pass every check, for subject sub.
func validClaims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": sub,
		"iss": testAuthConfig.Issuer,
		"aud": testAuthConfig.Audience,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"gen": 1,
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// with returns valid claims for Ann changed by change.
func with(change func(jwt.MapClaims)) jwt.MapClaims {
	c := validClaims(strconv.Itoa(annID))
	change(c)
	return c
}

// rs256HMAC is the key-confusion attack: a header claiming RS256 over a
// signature made with the HMAC secret.
func rs256HMAC(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, testAuthConfig.JWTSecret)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestAuthenticate(t *testing.T) {
	secret := testAuthConfig.JWTSecret
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ann := strconv.Itoa(annID)
	tests := []struct {
		name  string
		token func(t *testing.T) string
		ok    bool
	}{
		{"valid", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, secret, validClaims(ann)) }, true},
		{"expired within the leeway", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() }))
		}, true},
		{"empty", func(*testing.T) string { return "" }, false},
		{"garbage", func(*testing.T) string { return "not.a.token" }, false},
		{"alg none", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(ann))
		}, false},
		{"HS384", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS384, secret, validClaims(ann)) }, false},
		{"HS512", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS512, secret, validClaims(ann)) }, false},
		{"RS256", func(t *testing.T) string { return sign(t, jwt.SigningMethodRS256, rsaKey, validClaims(ann)) }, false},
		{"RS256 header over an HMAC signature", func(t *testing.T) string { return rs256HMAC(t, validClaims(ann)) }, false},
		{"wrong secret", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-32"), validClaims(ann))
		}, false},
		{"wrong issuer", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["iss"] = "someone-else" }))
		}, false},
		{"no issuer", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { delete(c, "iss") }))
		}, false},
		{"wrong audience", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["aud"] = "another-api" }))
		}, false},
		{"no audience", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { delete(c, "aud") }))
		}, false},
		{"expired beyond the leeway", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))
		}, false},
		{"no expiry", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { delete(c, "exp") }))
		}, false},
		{"issued in the future", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(10 * time.Minute).Unix() }))
		}, false},
		{"non-numeric subject", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, secret, validClaims("ann")) }, false},
		{"zero subject", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, secret, validClaims("0")) }, false},
		{"no subject", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { delete(c, "sub") }))
		}, false},
		{"user no longer exists", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, secret, validClaims("43")) }, false},
		{"an older token generation", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["gen"] = 0 }))
		}, false},
		{"no token generation", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { delete(c, "gen") }))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAuth(t)
			caller, err := f.svc.Authenticate(context.Background(), tt.token(t))
			if tt.ok {
				if err != nil || caller.UserID != annID {
					t.Fatalf("Authenticate = %+v, %v; want user %d", caller, err, annID)
				}
				return
			}
			if !errors.Is(err, services.ErrUnauthenticated) || caller != (services.Caller{}) {
				t.Fatalf("Authenticate = %+v, %v; want nobody, ErrUnauthenticated", caller, err)
			}
		})
	}
}

func TestAuthenticateStoreFailureIsNotUnauthenticated(t *testing.T) {
	f := newAuth(t)
	f.creds.identityErr = errStore
	_, err := f.svc.Authenticate(context.Background(), sign(t, jwt.SigningMethodHS256, testAuthConfig.JWTSecret, validClaims(strconv.Itoa(annID))))
	// A database outage is a 500, not a reason to log everyone out.
	if !errors.Is(err, errStore) || errors.Is(err, services.ErrUnauthenticated) {
		t.Fatalf("err = %v, want the store's error", err)
	}
}
