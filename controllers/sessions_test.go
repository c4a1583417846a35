package controllers_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/apitest"
)

// The helpers below carry a "sess" prefix (sessions).

type sessTokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// sessPair is a refresh answer as apitest keeps a session's tokens.
func sessPair(tok sessTokens) apitest.Tokens {
	return apitest.Tokens{Access: tok.AccessToken, Refresh: tok.RefreshToken}
}

func sessRefresh(api *apitest.API, token string) *apitest.Response {
	return api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/refresh", Body: map[string]string{"refresh_token": token}})
}

// sessRefreshed checks a 200 of /auth/refresh and returns its tokens.
func sessRefreshed(t *testing.T, api *apitest.API, token string) sessTokens {
	t.Helper()
	res := sessRefresh(api, token)
	if res.Status != http.StatusOK {
		t.Fatalf("refresh = %d %s, want 200", res.Status, res.Body)
	}
	var raw map[string]any
	res.JSON(t, &raw)
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"access_token", "expires_in", "refresh_token", "token_type"}) {
		t.Errorf("refresh answer members = %v", keys)
	}
	var tok sessTokens
	res.JSON(t, &tok)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != int(api.Config.JWTTTL.Seconds()) || tok.AccessToken == "" || len(tok.RefreshToken) < 22 {
		t.Errorf("refresh answer = %s, want Bearer tokens expiring in JWT_TTL (%v)", res.Body, api.Config.JWTTTL)
	}
	return tok
}

// sessRefused checks that a refresh token no longer works.
func sessRefused(t *testing.T, api *apitest.API, what, token string) {
	t.Helper()
	res := sessRefresh(api, token)
	if res.Status != http.StatusUnauthorized {
		t.Errorf("refresh with %s = %d %s, want 401", what, res.Status, res.Body)
		return
	}
	requireProblem(t, res, http.StatusUnauthorized, "/auth/refresh")
}

// sessMe returns the status of GET /users/me with an access token.
func sessMe(api *apitest.API, access string) int {
	return api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: access}).Status
}

func sessLogout(api *apitest.API, access, refresh string) *apitest.Response {
	return api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/logout", Token: access, Body: map[string]string{"refresh_token": refresh}})
}

func TestRefreshRotates(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")

	next := sessRefreshed(t, api, ada.Refresh)
	if next.RefreshToken == ada.Refresh || next.AccessToken == ada.Token {
		t.Errorf("refresh gave back the tokens it was sent")
	}
	if got := sessMe(api, next.AccessToken); got != http.StatusOK {
		t.Errorf("the new access token: GET /users/me = %d", got)
	}
	// The token sent is spent; the new one works, once.
	sessRefused(t, api, "the token just rotated", ada.Refresh)
	t.Run("reuse of a rotated token ends the session", func(t *testing.T) {
		// The spent token was presented again above: whoever holds the
		// session's current token has lost it too.
		sessRefused(t, api, "the token after the rotated one", next.RefreshToken)
	})

	t.Run("a chain of refreshes", func(t *testing.T) {
		tok := api.LoginTokens("ada@example.com", "correct horse")
		other := api.LoginTokens("ada@example.com", "correct horse")
		seen := map[string]bool{tok.Refresh: true}
		cur := tok.Refresh
		for range 4 {
			n := sessRefreshed(t, api, cur)
			if seen[n.RefreshToken] {
				t.Fatalf("refresh token %q issued twice", n.RefreshToken)
			}
			seen[n.RefreshToken] = true
			cur = n.RefreshToken
		}
		// Presenting the first token again, four rotations later, ends the
		// session it started, and only that one.
		sessRefused(t, api, "the session's first token", tok.Refresh)
		sessRefused(t, api, "the session's last token", cur)
		sessRefreshed(t, api, other.Refresh)
	})

	t.Run("unknown or malformed", func(t *testing.T) {
		for _, tok := range []string{"garbage", strings.Repeat("A", 43), ada.Token} {
			sessRefused(t, api, fmt.Sprintf("%.12q", tok), tok)
		}
		for _, body := range []any{`{}`, `{"refresh_token":""}`, `{"refresh_token":5}`, map[string]string{"refresh_token": strings.Repeat("a", 256)}} {
			requireFieldErrors(t, api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/refresh", Body: body}), "/auth/refresh", "refresh_token")
		}
		for _, body := range []string{``, `{`, `[]`} {
			res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/refresh", Body: body})
			requireProblem(t, res, http.StatusBadRequest, "/auth/refresh")
			requireNoErrorsMember(t, res)
		}
	})
}

// A refresh token is an opaque string stored only as a hash, valid for
// REFRESH_TTL.
func TestRefreshTokenStorage(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")

	raw, err := base64.RawURLEncoding.DecodeString(ada.Refresh)
	if err != nil {
		raw = []byte(ada.Refresh)
	}
	if len(raw) < 16 {
		t.Errorf("refresh token %q holds %d bytes, want at least 128 bits", ada.Refresh, len(raw))
	}
	var rows []string
	if err := api.DB.Select(&rows, `SELECT r::text FROM refresh_tokens AS r`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d refresh token rows, want 1", len(rows))
	}
	for _, needle := range []string{ada.Refresh, hex.EncodeToString(raw), hex.EncodeToString([]byte(ada.Refresh))} {
		if strings.Contains(rows[0], needle) {
			t.Errorf("the refresh_tokens row holds the token itself: %s", rows[0])
		}
	}
	var ttl time.Duration
	var expires time.Time
	if err := api.DB.Get(&expires, `SELECT expires_at FROM refresh_tokens`); err != nil {
		t.Fatal(err)
	}
	if ttl = time.Until(expires); ttl < api.Config.RefreshTTL-time.Minute || ttl > api.Config.RefreshTTL+time.Minute {
		t.Errorf("the refresh token expires in %v, want REFRESH_TTL %v", ttl, api.Config.RefreshTTL)
	}
	// Once past it, the token is refused.
	if _, err := api.DB.Exec(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	sessRefused(t, api, "an expired token", ada.Refresh)
}

// Two refreshes of one token at the same moment never leave the session
// usable through both: either one wins and only its token works
// afterwards, or the session ends for both.
func TestRefreshRace(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	api.SignUp("ada@example.com", "Ada", "correct horse")
	for round := range 4 {
		tok := api.LoginTokens("ada@example.com", "correct horse")
		req := apitest.Request{Method: http.MethodPost, Path: "/auth/refresh", Body: map[string]string{"refresh_token": tok.Refresh}}
		res := condRace(api, []apitest.Request{req, req})
		var won []string
		for _, r := range res {
			switch r.Status {
			case http.StatusOK:
				var n sessTokens
				r.JSON(t, &n)
				won = append(won, n.RefreshToken)
			case http.StatusUnauthorized:
			default:
				t.Errorf("round %d: a racing refresh = %d %s, want 200 or 401", round, r.Status, r.Body)
			}
		}
		if len(won) > 1 {
			t.Errorf("round %d: both racing refreshes of one token succeeded", round)
		}
		// What the session is worth now: at most one descendant is alive
		// (each is tried before anything else could end the session), and
		// the token sent is spent in any case.
		live := 0
		for _, w := range won {
			if sessRefresh(api, w).Status == http.StatusOK {
				live++
			}
		}
		if live > 1 {
			t.Errorf("round %d: %d live descendants of one token", round, live)
		}
		sessRefused(t, api, "the raced token", tok.Refresh)
		t.Logf("round %d: statuses %v, %d live afterwards", round, statuses(res), live)
	}
}

func TestRefreshEndsWithTheUser(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	next := sessRefreshed(t, api, ada.Refresh)
	res := api.Do(apitest.Request{Method: http.MethodDelete, Path: uaUserPath(ada.ID), Token: next.AccessToken})
	if res.Status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", res.Status, res.Body)
	}
	sessRefused(t, api, "a token of a deleted user", next.RefreshToken)
	for _, access := range []string{ada.Token, next.AccessToken} {
		if got := sessMe(api, access); got != http.StatusUnauthorized {
			t.Errorf("an access token of a deleted user: GET /users/me = %d, want 401", got)
		}
	}
	// The email signed up again is a new account; the old session stays
	// dead.
	again := api.SignUp("ada@example.com", "Ada Again", "correct horse")
	sessRefused(t, api, "the old user's token after the email came back", next.RefreshToken)
	if got := sessMe(api, next.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("the old user's access token after the email came back: %d, want 401", got)
	}
	sessRefreshed(t, api, again.Refresh)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	bob := api.SignUp("bob@example.com", "Bob", "correct horse")
	other := api.LoginTokens("ada@example.com", "correct horse")

	// Logging out with the session's current token, after a rotation,
	// ends the session: the token and the one before it.
	next := sessRefreshed(t, api, ada.Refresh)
	res := sessLogout(api, next.AccessToken, next.RefreshToken)
	if res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("logout = %d %q, want 204 and no body", res.Status, res.Body)
	}
	sessRefused(t, api, "the token logged out with", next.RefreshToken)
	sessRefused(t, api, "an earlier token of the session", ada.Refresh)
	// Another session of the same user goes on.
	other = sessPair(sessRefreshed(t, api, other.Refresh))

	t.Run("with an earlier token of the session", func(t *testing.T) {
		tok := api.LoginTokens("ada@example.com", "correct horse")
		cur := sessRefreshed(t, api, tok.Refresh)
		if res := sessLogout(api, cur.AccessToken, tok.Refresh); res.Status != http.StatusNoContent {
			t.Fatalf("logout = %d %s", res.Status, res.Body)
		}
		sessRefused(t, api, "the session's current token", cur.RefreshToken)
	})
	t.Run("a token that is not the caller's, or none at all", func(t *testing.T) {
		for _, tok := range []string{bob.Refresh, "garbage", ada.Refresh, next.RefreshToken} {
			if res := sessLogout(api, other.Access, tok); res.Status != http.StatusNoContent || len(res.Body) != 0 {
				t.Errorf("logout with %.12q = %d %s, want 204", tok, res.Status, res.Body)
			}
		}
		// Bob's session is not ended by Ada naming its token, nor Ada's other.
		sessRefreshed(t, api, bob.Refresh)
		sessRefreshed(t, api, other.Refresh)
	})
	t.Run("refused", func(t *testing.T) {
		tok := api.LoginTokens("ada@example.com", "correct horse")
		for _, access := range []string{"", "garbage"} {
			uaCheckUnauthorized(t, sessLogout(api, access, tok.Refresh), "/auth/logout")
		}
		requireFieldErrors(t, api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/logout", Token: tok.Access, Body: `{}`}), "/auth/logout", "refresh_token")
		requireProblem(t, api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/logout", Token: tok.Access, Body: `{`}), http.StatusBadRequest, "/auth/logout")
		// None of it ended the session.
		sessRefreshed(t, api, tok.Refresh)
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	second := api.LoginTokens("ada@example.com", "correct horse")
	bob := api.SignUp("bob@example.com", "Bob", "correct horse")
	change := func(access, current, next string) *apitest.Response {
		return api.Do(apitest.Request{Method: http.MethodPut, Path: "/users/me/password", Token: access,
			Body: map[string]string{"current_password": current, "new_password": next}})
	}

	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			body   any
			fields []string
		}{
			{"empty", `{}`, []string{"current_password", "new_password"}},
			{"no new password", map[string]string{"current_password": "correct horse"}, []string{"new_password"}},
			{"no current password", map[string]string{"new_password": "battery staple"}, []string{"current_password"}},
			{"new password of 7 bytes", map[string]string{"current_password": "correct horse", "new_password": "1234567"}, []string{"new_password"}},
			{"new password of 73 bytes", map[string]string{"current_password": "correct horse", "new_password": strings.Repeat("p", 73)}, []string{"new_password"}},
			{"numbers", `{"current_password":1,"new_password":"battery staple"}`, []string{"current_password"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := api.Do(apitest.Request{Method: http.MethodPut, Path: "/users/me/password", Token: ada.Token, Body: tt.body})
				requireFieldErrors(t, res, "/users/me/password", tt.fields...)
			})
		}
		p := requireProblem(t, change(ada.Token, "wrong horse", "battery staple"), http.StatusForbidden, "/users/me/password")
		if strings.Contains(p.Detail, "correct horse") {
			t.Errorf("detail = %q", p.Detail)
		}
		// Nothing changed: the old password and every session still work.
		api.Login("ada@example.com", "correct horse")
		if got := sessMe(api, ada.Token); got != http.StatusOK {
			t.Errorf("GET /users/me after a refused change = %d", got)
		}
		second = sessPair(sessRefreshed(t, api, second.Refresh))
	})

	res := change(ada.Token, "correct horse", "battery staple")
	if res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("change password = %d %q, want 204 and no body", res.Status, res.Body)
	}
	// Every access token issued before, and every refresh token, is void.
	for name, access := range map[string]string{"the one that changed it": ada.Token, "another session's": second.Access} {
		if got := sessMe(api, access); got != http.StatusUnauthorized {
			t.Errorf("%s access token after the change: %d, want 401", name, got)
		}
	}
	sessRefused(t, api, "the first session's token", ada.Refresh)
	sessRefused(t, api, "another session's token", second.Refresh)
	if res := uaLogin(api, "ada@example.com", "correct horse"); res.Status != http.StatusUnauthorized {
		t.Errorf("login with the old password = %d, want 401", res.Status)
	}
	// What is issued after the change works; other users are untouched.
	tok := api.LoginTokens("ada@example.com", "battery staple")
	if got := sessMe(api, tok.Access); got != http.StatusOK {
		t.Errorf("a token issued after the change: GET /users/me = %d", got)
	}
	sessRefreshed(t, api, tok.Refresh)
	if got := sessMe(api, bob.Token); got != http.StatusOK {
		t.Errorf("bob after ada's change: %d", got)
	}
	sessRefreshed(t, api, bob.Refresh)
}

// A wrong current password counts as a failed login: the per-email
// throttle closes both login and password changes.
func TestChangePasswordIsThrottled(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	api.SignUp("bob@example.com", "Bob", "correct horse")
	change := func(current string) *apitest.Response {
		return api.Do(apitest.Request{Method: http.MethodPut, Path: "/users/me/password", Token: ada.Token,
			Body: map[string]string{"current_password": current, "new_password": "battery staple"}})
	}
	for i := range api.Config.LoginMaxFailuresPerEmail {
		if res := change("wrong horse"); res.Status != http.StatusForbidden {
			t.Fatalf("wrong current password %d = %d %s, want 403", i+1, res.Status, res.Body)
		}
	}
	uaCheckThrottled(t, uaLogin(api, "ada@example.com", "correct horse"), api.Config.LoginFailureWindow)
	res := change("correct horse")
	requireProblem(t, res, http.StatusTooManyRequests, "/users/me/password")
	if ra := res.Header.Get("Retry-After"); ra == "" {
		t.Errorf("429 without Retry-After")
	}
	// The password did not change, and another email is not throttled.
	if res := uaLogin(api, "bob@example.com", "correct horse"); res.Status != http.StatusOK {
		t.Errorf("bob: %d", res.Status)
	}
	var n int
	if err := api.DB.Get(&n, `SELECT token_generation FROM users WHERE email = 'ada@example.com'`); err != nil || n != 1 {
		t.Errorf("token generation %d (%v), want 1: the password changed", n, err)
	}
}
