package controllers_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/internal/apitest"
)

func uaLogin(api *apitest.API, email, password string) *apitest.Response {
	return api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/login",
		Body: map[string]string{"email": email, "password": password}})
}

// uaLoginFrom logs in from a given client address, which apitest.Do fixes.
func uaLoginFrom(api *apitest.API, remoteAddr, email, password string, header map[string]string) *apitest.Response {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	r := httptest.NewRequest(http.MethodPost, "/auth/login", bytes.NewReader(body))
	r.RemoteAddr = remoteAddr
	r.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	api.Handler.ServeHTTP(w, r)
	return &apitest.Response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// uaCheckThrottled asserts a 429 problem with a positive integer Retry-After
// no longer than the window.
func uaCheckThrottled(t *testing.T, res *apitest.Response, window time.Duration) {
	t.Helper()
	requireProblem(t, res, http.StatusTooManyRequests, "/auth/login")
	ra := res.Header.Get("Retry-After")
	secs, err := strconv.Atoi(ra)
	if err != nil || secs <= 0 || secs > int(window.Seconds()+0.5) {
		t.Errorf("Retry-After = %q, want a positive integer of at most %v seconds", ra, window.Seconds())
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")

	for _, email := range []string{"ada@example.com", "ADA@Example.COM", "  ada@example.com "} {
		t.Run(email, func(t *testing.T) {
			res := uaLogin(api, email, "correct horse")
			if res.Status != http.StatusOK {
				t.Fatalf("login = %d %s, want 200", res.Status, res.Body)
			}
			if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/json" {
				t.Errorf("Content-Type = %q", res.Header.Get("Content-Type"))
			}
			var raw map[string]any
			res.JSON(t, &raw)
			if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"access_token", "expires_in", "refresh_token", "token_type"}) {
				t.Errorf("token response members = %v", keys)
			}
			// An opaque string of at least 128 random bits.
			if refresh, _ := raw["refresh_token"].(string); len(refresh) < 22 || strings.Count(string(res.Body), refresh) != 1 {
				t.Errorf("refresh_token = %q, want an opaque string of at least 128 bits", refresh)
			}
			if raw["token_type"] != "Bearer" || raw["expires_in"] != float64(3600) {
				t.Errorf("token_type %v expires_in %v, want Bearer 3600", raw["token_type"], raw["expires_in"])
			}
			token, _ := raw["access_token"].(string)
			if token == "" {
				t.Fatalf("no access_token: %s", res.Body)
			}
			uaNoSecrets(t, res.Body, "correct horse")

			// The token is an HS256 JWT for this user, from this issuer, for
			// this audience, valid for an hour.
			var claims jwt.RegisteredClaims
			_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return []byte(api.Config.JWTSecret), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(api.Config.JWTIssuer), jwt.WithAudience(api.Config.JWTAudience),
				jwt.WithExpirationRequired())
			if err != nil {
				t.Fatalf("access token does not verify: %v", err)
			}
			if claims.Subject != strconv.FormatInt(ada.ID, 10) {
				t.Errorf("sub = %q, want %d", claims.Subject, ada.ID)
			}
			// It carries the user's token generation, which a password
			// change moves on.
			var gen struct {
				Gen json.Number `json:"gen"`
			}
			payload, err := jwt.NewParser().DecodeSegment(strings.Split(token, ".")[1])
			if err != nil {
				t.Fatalf("token payload: %v", err)
			}
			if err := json.Unmarshal(payload, &gen); err != nil || gen.Gen != "1" {
				t.Errorf("gen claim = %q (%v), want 1, the generation of a user who never changed their password: %s", gen.Gen, err, payload)
			}
			if claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) != time.Hour {
				t.Errorf("iat %v exp %v, want an hour apart", claims.IssuedAt, claims.ExpiresAt)
			}
			if d := time.Until(claims.ExpiresAt.Time); d < 59*time.Minute || d > time.Hour+time.Minute {
				t.Errorf("token expires in %v, want about an hour", d)
			}

			me := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: token})
			if me.Status != http.StatusOK {
				t.Fatalf("GET /users/me with the token = %d %s", me.Status, me.Body)
			}
			if u := uaDecodeUser(t, me.Body); u.ID != ada.ID {
				t.Errorf("token is for user %d, want %d", u.ID, ada.ID)
			}
		})
	}
}

// Unknown email and wrong password must not be told apart.
func TestLoginBadCredentials(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.SignUp("ada@example.com", "Ada", "correct horse")

	unknown := uaLogin(api, "nobody@example.com", "correct horse")
	wrong := uaLogin(api, "ada@example.com", "wrong horse")
	for name, res := range map[string]*apitest.Response{"unknown email": unknown, "wrong password": wrong} {
		t.Run(name, func(t *testing.T) {
			requireProblem(t, res, http.StatusUnauthorized, "/auth/login")
			if strings.Contains(string(res.Body), "access_token") {
				t.Errorf("a failed login issued a token: %s", res.Body)
			}
		})
	}
	if !bytes.Equal(unknown.Body, wrong.Body) {
		t.Errorf("bodies differ:\n unknown email  %s\n wrong password %s", unknown.Body, wrong.Body)
	}
	for _, h := range []string{"Content-Type", "WWW-Authenticate", "Retry-After", "Content-Length"} {
		if unknown.Header.Get(h) != wrong.Header.Get(h) {
			t.Errorf("%s differs: unknown email %q, wrong password %q", h, unknown.Header.Get(h), wrong.Header.Get(h))
		}
	}

	for _, password := range []string{"Correct horse", "correct horse ", "correct hors", " correct horse"} {
		t.Run("near miss "+strconv.Quote(password), func(t *testing.T) {
			res := uaLogin(api, "ada@example.com", password)
			if !bytes.Equal(res.Body, wrong.Body) || res.Status != http.StatusUnauthorized {
				t.Errorf("login = %d %s, want the same 401", res.Status, res.Body)
			}
		})
	}
}

func TestLoginValidation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.SignUp("ada@example.com", "Ada", "correct horse")
	tests := []struct {
		name   string
		body   any
		fields []string
	}{
		{"empty object", `{}`, []string{"email", "password"}},
		{"missing password", map[string]string{"email": "ada@example.com"}, []string{"password"}},
		{"missing email", map[string]string{"password": "correct horse"}, []string{"email"}},
		{"password is a number", `{"email":"ada@example.com","password":12345678}`, []string{"password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uaCheckValidation(t, api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/login", Body: tt.body}), "/auth/login", tt.fields...)
		})
	}
	for _, body := range []string{``, `{`, `[]`, `nope`} {
		t.Run("malformed "+strconv.Quote(body), func(t *testing.T) {
			uaCheckMalformed(t, api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/login", Body: body,
				Header: map[string]string{"Content-Type": "application/json"}}), "/auth/login")
		})
	}
	// Unknown fields are ignored.
	res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/login",
		Body: map[string]any{"email": "ada@example.com", "password": "correct horse", "remember_me": true}})
	if res.Status != http.StatusOK {
		t.Errorf("login with an extra field = %d %s", res.Status, res.Body)
	}
}

func TestLoginThrottlePerEmail(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	api.SignUp("bob@example.com", "Bob", "correct horse")
	window := api.Config.LoginFailureWindow

	// Four failures, however the email is spelled, leave the fifth attempt
	// open; the fifth failure closes it.
	for i, email := range []string{"ada@example.com", "ADA@example.com", " ada@example.com", "Ada@Example.Com", "ada@example.com"} {
		if res := uaLogin(api, email, "wrong horse"); res.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s, want 401", i+1, res.Status, res.Body)
		}
	}
	for _, tt := range []struct{ name, email, password string }{
		{"right password", "ada@example.com", "correct horse"},
		{"wrong password", "ada@example.com", "wrong horse"},
		{"other spelling", "ADA@EXAMPLE.COM", "correct horse"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			uaCheckThrottled(t, uaLogin(api, tt.email, tt.password), window)
		})
	}
	// Another email is not affected.
	if res := uaLogin(api, "bob@example.com", "correct horse"); res.Status != http.StatusOK {
		t.Errorf("bob: %d %s, want 200", res.Status, res.Body)
	}
	// A token issued before keeps working: throttling is about logging in.
	if res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: ada.Token}); res.Status != http.StatusOK {
		t.Errorf("GET /users/me with an earlier token: %d %s", res.Status, res.Body)
	}
}

func TestLoginThrottleUnknownEmail(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	for i := range 5 {
		if res := uaLogin(api, "nobody@example.com", "whatever1"); res.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s, want 401", i+1, res.Status, res.Body)
		}
	}
	uaCheckThrottled(t, uaLogin(api, "nobody@example.com", "whatever1"), api.Config.LoginFailureWindow)
	// Signing up with that email does not lift the throttle early.
	api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("nobody@example.com", "Nobody", "whatever1")})
	uaCheckThrottled(t, uaLogin(api, "nobody@example.com", "whatever1"), api.Config.LoginFailureWindow)
}

func TestLoginThrottlePerClient(t *testing.T) {
	t.Parallel()
	const limit = 4
	api := apitest.New(t, func(c *app.Config) { c.LoginMaxFailuresPerClient = limit })
	api.SignUp("ada@example.com", "Ada", "correct horse")
	const attacker, other = "198.51.100.7:5555", "203.0.113.9:4444"

	// One failure each for many emails: no email reaches its own limit.
	for i := range limit {
		email := "guess" + strconv.Itoa(i) + "@example.com"
		if res := uaLoginFrom(api, attacker, email, "password1", nil); res.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s, want 401", i+1, res.Status, res.Body)
		}
	}
	t.Run("same address", func(t *testing.T) {
		uaCheckThrottled(t, uaLoginFrom(api, attacker, "ada@example.com", "correct horse", nil), api.Config.LoginFailureWindow)
	})
	t.Run("same address, other port", func(t *testing.T) {
		uaCheckThrottled(t, uaLoginFrom(api, "198.51.100.7:6666", "ada@example.com", "correct horse", nil), api.Config.LoginFailureWindow)
	})
	t.Run("same address, spoofed forwarding headers", func(t *testing.T) {
		res := uaLoginFrom(api, attacker, "ada@example.com", "correct horse", map[string]string{
			"X-Forwarded-For": "192.0.2.200", "X-Real-IP": "192.0.2.201",
		})
		uaCheckThrottled(t, res, api.Config.LoginFailureWindow)
	})
	t.Run("other address", func(t *testing.T) {
		if res := uaLoginFrom(api, other, "ada@example.com", "correct horse", nil); res.Status != http.StatusOK {
			t.Errorf("login from another address = %d %s, want 200", res.Status, res.Body)
		}
	})
}

// The default per-client limit is 50 failures, as the contract says.
func TestLoginThrottlePerClientDefault(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	if api.Config.LoginMaxFailuresPerClient != 50 || api.Config.LoginMaxFailuresPerEmail != 5 {
		t.Fatalf("harness limits %d per client, %d per email; want 50 and 5",
			api.Config.LoginMaxFailuresPerClient, api.Config.LoginMaxFailuresPerEmail)
	}
	api.SignUp("ada@example.com", "Ada", "correct horse")
	for i := range 50 {
		email := "guess" + strconv.Itoa(i) + "@example.com"
		if res := uaLogin(api, email, "password1"); res.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s, want 401", i+1, res.Status, res.Body)
		}
	}
	uaCheckThrottled(t, uaLogin(api, "ada@example.com", "correct horse"), api.Config.LoginFailureWindow)
}

// Once the window has passed, the email may log in again.
func TestLoginThrottleWindowPasses(t *testing.T) {
	t.Parallel()
	const window = time.Second
	api := apitest.New(t, func(c *app.Config) {
		c.LoginMaxFailuresPerEmail = 2
		c.LoginFailureWindow = window
	})
	api.SignUp("ada@example.com", "Ada", "correct horse")
	start := time.Now()
	for range 2 {
		if res := uaLogin(api, "ada@example.com", "wrong horse"); res.Status != http.StatusUnauthorized {
			t.Fatalf("failure: %d %s, want 401", res.Status, res.Body)
		}
	}
	res := uaLogin(api, "ada@example.com", "correct horse")
	if time.Since(start) >= window {
		t.Skip("machine too slow to observe a one-second window")
	}
	uaCheckThrottled(t, res, window)
	time.Sleep(time.Until(start.Add(window + 100*time.Millisecond)))
	if res := uaLogin(api, "ada@example.com", "correct horse"); res.Status != http.StatusOK {
		t.Errorf("login after the window = %d %s, want 200", res.Status, res.Body)
	}
}

// uaToken signs claims for the test's app, overridden by change.
func uaToken(t *testing.T, api *apitest.API, method jwt.SigningMethod, key any, change func(*jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"sub": "1",
		"iss": api.Config.JWTIssuer,
		"aud": []string{api.Config.JWTAudience},
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"gen": 1, // the token generation of a user who never changed their password
	}
	if change != nil {
		change(&claims)
	}
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return s
}

func TestAuthBearer(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	bob := api.SignUp("bob@example.com", "Bob", "correct horse")
	secret := []byte(api.Config.JWTSecret)
	sub := strconv.FormatInt(ada.ID, 10)
	hs256 := func(change func(*jwt.MapClaims)) string {
		return uaToken(t, api, jwt.SigningMethodHS256, secret, func(c *jwt.MapClaims) {
			(*c)["sub"] = sub
			if change != nil {
				change(c)
			}
		})
	}
	valid := hs256(nil)
	// A token whose payload was swapped for another user's, keeping the
	// signature.
	parts := strings.Split(valid, ".")
	bobParts := strings.Split(uaToken(t, api, jwt.SigningMethodHS256, []byte("another key"), func(c *jwt.MapClaims) {
		(*c)["sub"] = strconv.FormatInt(bob.ID, 10)
	}), ".")
	forged := parts[0] + "." + bobParts[1] + "." + parts[2]

	accepted := []struct {
		name, header string
	}{
		{"issued token", "Bearer " + ada.Token},
		{"self-made valid token", "Bearer " + valid},
		{"lower-case scheme", "bearer " + valid},
		{"expired within the leeway", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["exp"] = time.Now().Add(-5 * time.Second).Unix() })},
	}
	for _, tt := range accepted {
		t.Run("accepted/"+tt.name, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Header: map[string]string{"Authorization": tt.header}})
			if res.Status != http.StatusOK {
				t.Fatalf("GET /users/me = %d %s, want 200", res.Status, res.Body)
			}
			if u := uaDecodeUser(t, res.Body); u.ID != ada.ID {
				t.Errorf("caller %d, want %d", u.ID, ada.ID)
			}
		})
	}

	rejected := []struct {
		name   string
		header string // "" sends no Authorization header
	}{
		{"missing", ""},
		{"scheme only", "Bearer"},
		{"scheme and space", "Bearer "},
		{"basic", "Basic dXNlcjpwYXNz"},
		{"basic x", "Basic x"},
		{"garbage", "garbage"},
		{"token without scheme", valid},
		{"other scheme with token", "Token " + valid},
		{"other seven-character scheme with token", "Digest " + valid},
		{"bearer garbage", "Bearer garbage"},
		{"bearer three dots", "Bearer a.b.c"},
		{"bearer two tokens", "Bearer " + valid + " " + valid},
		{"expired", "Bearer " + hs256(func(c *jwt.MapClaims) {
			(*c)["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			(*c)["exp"] = time.Now().Add(-time.Hour).Unix()
		})},
		{"expired beyond the leeway", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["exp"] = time.Now().Add(-2 * time.Minute).Unix() })},
		{"no exp", "Bearer " + hs256(func(c *jwt.MapClaims) { delete(*c, "exp") })},
		{"not yet valid", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["nbf"] = time.Now().Add(time.Hour).Unix() })},
		{"issued in the future", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["iat"] = time.Now().Add(time.Hour).Unix() })},
		{"wrong secret", "Bearer " + uaToken(t, api, jwt.SigningMethodHS256, []byte("not-the-secret-not-the-secret-000"), func(c *jwt.MapClaims) { (*c)["sub"] = sub })},
		{"forged payload", "Bearer " + forged},
		{"signature stripped", "Bearer " + parts[0] + "." + parts[1] + "."},
		{"alg none", "Bearer " + uaToken(t, api, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, func(c *jwt.MapClaims) { (*c)["sub"] = sub })},
		{"HS512 with the right secret", "Bearer " + uaToken(t, api, jwt.SigningMethodHS512, secret, func(c *jwt.MapClaims) { (*c)["sub"] = sub })},
		{"other issuer", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["iss"] = "someone-else" })},
		{"no issuer", "Bearer " + hs256(func(c *jwt.MapClaims) { delete(*c, "iss") })},
		{"other audience", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["aud"] = []string{"another-api"} })},
		{"no audience", "Bearer " + hs256(func(c *jwt.MapClaims) { delete(*c, "aud") })},
		{"no subject", "Bearer " + hs256(func(c *jwt.MapClaims) { delete(*c, "sub") })},
		{"subject not a number", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["sub"] = "ada" })},
		{"subject zero", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["sub"] = "0" })},
		{"subject negative", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["sub"] = "-1" })},
		{"subject of no user", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["sub"] = "999999" })},
		{"no generation", "Bearer " + hs256(func(c *jwt.MapClaims) { delete(*c, "gen") })},
		{"generation 0", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["gen"] = 0 })},
		{"a later generation", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["gen"] = 2 })},
		{"generation as a string", "Bearer " + hs256(func(c *jwt.MapClaims) { (*c)["gen"] = "1" })},
	}
	protected := []apitest.Request{
		{Method: http.MethodGet, Path: "/users/me"},
		{Method: http.MethodGet, Path: "/users"},
		{Method: http.MethodGet, Path: uaUserPath(bob.ID)},
		{Method: http.MethodPut, Path: uaUserPath(ada.ID), Body: map[string]string{"name": "Mallory"}},
		{Method: http.MethodPatch, Path: uaUserPath(ada.ID), Body: map[string]string{"name": "Mallory"}},
		{Method: http.MethodDelete, Path: uaUserPath(ada.ID)},
		{Method: http.MethodPost, Path: "/items", Body: map[string]any{"name": "Teapot", "price_cents": 1}},
		{Method: http.MethodPut, Path: "/users/me/password", Body: map[string]string{"current_password": "correct horse", "new_password": "hijacked!"}},
	}
	for _, tt := range rejected {
		t.Run("rejected/"+tt.name, func(t *testing.T) {
			for _, r := range protected {
				if tt.header != "" {
					r.Header = map[string]string{"Authorization": tt.header}
				}
				res := api.Do(r)
				if res.Status != http.StatusUnauthorized {
					t.Errorf("%s %s = %d %s, want 401", r.Method, r.Path, res.Status, res.Body)
					continue
				}
				uaCheckUnauthorized(t, res, r.Path)
			}
		})
	}

	// None of it changed anything.
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: ada.Token})
	if u := uaDecodeUser(t, res.Body); res.Status != http.StatusOK || u.Name != "Ada" {
		t.Errorf("ada after rejected requests: %d %s", res.Status, res.Body)
	}
	var items int
	if err := api.DB.Get(&items, `SELECT count(*) FROM items`); err != nil || items != 0 {
		t.Errorf("%d items created by rejected requests (%v)", items, err)
	}
}

// Login needs no token, and a bad one does not stop it.
func TestAuthLoginIgnoresBearer(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.SignUp("ada@example.com", "Ada", "correct horse")
	res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/login", Token: "garbage",
		Body: map[string]string{"email": "ada@example.com", "password": "correct horse"}})
	if res.Status != http.StatusOK {
		t.Errorf("login with a bad bearer header = %d %s, want 200", res.Status, res.Body)
	}
	res = api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Token: "garbage", Body: uaSignUpBody("bob@example.com", "Bob", "password")})
	if res.Status != http.StatusCreated {
		t.Errorf("sign up with a bad bearer header = %d %s, want 201", res.Status, res.Body)
	}
}

// A burst of concurrent guesses must not get more than the limit through.
func TestLoginThrottleConcurrentBurst(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.SignUp("ada@example.com", "Ada", "correct horse")
	const n = 30
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses <- uaLogin(api, "ada@example.com", "guess"+strconv.Itoa(i)).Status
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusUnauthorized] > api.Config.LoginMaxFailuresPerEmail {
		t.Errorf("%d of %d concurrent guesses were checked (401), want at most %d; statuses %v",
			counts[http.StatusUnauthorized], n, api.Config.LoginMaxFailuresPerEmail, counts)
	}
}
