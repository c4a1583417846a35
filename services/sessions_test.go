package services_test

import (
	"context"
	"errors"
	"testing"

	"github.com/example/apitemplate/services"
)

func login(t *testing.T, f authFixture) services.Tokens {
	t.Helper()
	tok, err := f.svc.Login(context.Background(), annEmail, annPassword, clientAddr)
	if err != nil || tok.RefreshToken == "" || tok.Access == "" {
		t.Fatalf("Login = %+v, %v", tok, err)
	}
	return tok
}

func TestRefreshRotates(t *testing.T) {
	f := newAuth(t)
	first := login(t, f)
	second, err := f.svc.Refresh(context.Background(), first.RefreshToken)
	if err != nil || second.RefreshToken == first.RefreshToken || second.Access == "" {
		t.Fatalf("Refresh = %+v, %v; want new tokens", second, err)
	}
	if _, err := f.svc.Authenticate(context.Background(), second.Access); err != nil {
		t.Fatalf("the refreshed access token: %v", err)
	}
	third, err := f.svc.Refresh(context.Background(), second.RefreshToken)
	if err != nil {
		t.Fatalf("refresh with the new token: %v", err)
	}
	// Only the token of the session is stored, never the token itself.
	for hash := range f.refresh.tokens {
		for _, tok := range []string{first.RefreshToken, second.RefreshToken, third.RefreshToken} {
			if hash == tok {
				t.Fatal("a refresh token is stored as it is")
			}
		}
	}
}

// A rotated token presented again ends the whole session: its latest
// token too, whoever holds it.
func TestRefreshReuseEndsTheSession(t *testing.T) {
	f := newAuth(t)
	stolen := login(t, f)
	other := login(t, f) // another session of the same user
	rotated, err := f.svc.Refresh(context.Background(), stolen.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(context.Background(), stolen.RefreshToken); !errors.Is(err, services.ErrUnauthenticated) {
		t.Fatalf("reusing a rotated token = %v, want ErrUnauthenticated", err)
	}
	if _, err := f.svc.Refresh(context.Background(), rotated.RefreshToken); !errors.Is(err, services.ErrUnauthenticated) {
		t.Fatalf("the session's latest token after reuse = %v, want ErrUnauthenticated", err)
	}
	if _, err := f.svc.Refresh(context.Background(), other.RefreshToken); err != nil {
		t.Fatalf("another session of the user after reuse: %v", err)
	}
}

func TestRefreshRefusesUnknownTokens(t *testing.T) {
	f := newAuth(t)
	for _, tok := range []string{"", "not-a-token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := f.svc.Refresh(context.Background(), tok); !errors.Is(err, services.ErrUnauthenticated) {
			t.Errorf("Refresh(%q) = %v, want ErrUnauthenticated", tok, err)
		}
	}
}

func TestLogoutEndsOnlyItsSession(t *testing.T) {
	f := newAuth(t)
	ann := services.Caller{UserID: annID}
	kept, ended := login(t, f), login(t, f)
	if err := f.svc.Logout(context.Background(), services.Caller{UserID: 999}, kept.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(context.Background(), ann, ended.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(context.Background(), ended.RefreshToken); !errors.Is(err, services.ErrUnauthenticated) {
		t.Fatalf("refresh after logout = %v, want ErrUnauthenticated", err)
	}
	if _, err := f.svc.Refresh(context.Background(), kept.RefreshToken); err != nil {
		t.Fatalf("a session someone else tried to end: %v", err)
	}
	if err := f.svc.Logout(context.Background(), ann, "unknown"); err != nil {
		t.Fatalf("logout with an unknown token = %v, want nil", err)
	}
}

func TestChangePassword(t *testing.T) {
	f := newAuth(t)
	ann := services.Caller{UserID: annID}
	before := login(t, f)
	if err := f.svc.ChangePassword(context.Background(), ann, "wrong", "new password 1", clientAddr); !errors.Is(err, services.ErrForbidden) {
		t.Fatalf("with a wrong current password = %v, want ErrForbidden", err)
	}
	if got := f.failures.recorded(); len(got) != 1 {
		t.Fatalf("recorded failures = %q, want the wrong password as one", got)
	}
	if err := f.svc.ChangePassword(context.Background(), ann, annPassword, "new password 1", clientAddr); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if _, err := f.svc.Authenticate(context.Background(), before.Access); !errors.Is(err, services.ErrUnauthenticated) {
		t.Fatalf("an access token from before the change = %v, want ErrUnauthenticated", err)
	}
	if _, err := f.svc.Refresh(context.Background(), before.RefreshToken); !errors.Is(err, services.ErrUnauthenticated) {
		t.Fatalf("a refresh token from before the change = %v, want ErrUnauthenticated", err)
	}
	if _, err := f.svc.Login(context.Background(), annEmail, annPassword, clientAddr); !errors.Is(err, services.ErrInvalidCredentials) {
		t.Fatalf("login with the old password = %v, want ErrInvalidCredentials", err)
	}
	after, err := f.svc.Login(context.Background(), annEmail, "new password 1", clientAddr)
	if err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	if _, err := f.svc.Authenticate(context.Background(), after.Access); err != nil {
		t.Fatalf("an access token from after the change: %v", err)
	}
}

// The role comes from the user-exists check of every request, never from
// the token alone.
func TestAuthenticateReadsTheRoleNow(t *testing.T) {
	f := newAuth(t)
	tok := login(t, f)
	for _, role := range []services.Role{services.RoleAdmin, services.RoleUser} {
		f.creds.identities[annID] = services.Identity{Role: role, TokenGeneration: 1}
		caller, err := f.svc.Authenticate(context.Background(), tok.Access)
		if err != nil || caller.Role != role {
			t.Fatalf("with the role %s: Authenticate = %+v, %v", role, caller, err)
		}
	}
}
