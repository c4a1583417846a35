package controllers_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/example/apitemplate/internal/apitest"
)

// Admins may GET, PUT, PATCH and DELETE any user and any item; a missing
// one is 404 for them.
func TestAdminActsOnAnyone(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	admin := api.SignUpAdmin("root@example.com", "Root", "password")
	ada := api.SignUp("ada@example.com", "Ada", "password")
	bob := api.SignUp("bob@example.com", "Bob", "password")
	adaPath := uaUserPath(ada.ID)

	t.Run("users", func(t *testing.T) {
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: adaPath, Token: admin.Token})
		if u := uaDecodeUser(t, res.Body); res.Status != http.StatusOK || u.Email != "ada@example.com" {
			t.Fatalf("GET ada as admin = %d %s", res.Status, res.Body)
		}
		res = api.Do(apitest.Request{Method: http.MethodPut, Path: adaPath, Token: admin.Token, Body: map[string]any{"name": "Ada by Root"}})
		if u := uaDecodeUser(t, res.Body); res.Status != http.StatusOK || u.Name != "Ada by Root" || u.Role != "user" {
			t.Fatalf("PUT ada as admin = %d %s", res.Status, res.Body)
		}
		res = mergePatch(api, adaPath, admin.Token, `{"email":"ada.k@example.com","role":"admin"}`)
		if u := uaDecodeUser(t, res.Body); res.Status != http.StatusOK || u.Email != "ada.k@example.com" || u.Role != "user" {
			t.Fatalf("PATCH ada as admin = %d %s, want the email changed and the role not", res.Status, res.Body)
		}
		// What the admin changed is what ada sees.
		uaSameJSON(t, "ada's own view", api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: ada.Token}).Body, res.Body)
		requireProblem(t, mergePatch(api, adaPath, admin.Token, `{"email":"bob@example.com"}`), http.StatusConflict, adaPath)
		requireFieldErrors(t, mergePatch(api, adaPath, admin.Token, `{"email":null}`), adaPath, "email")

		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			r := apitest.Request{Method: method, Path: uaUserPath(424242), Token: admin.Token}
			if method == http.MethodPut || method == http.MethodPatch {
				r.Body = `{"name":"Nobody"}`
			}
			requireProblem(t, api.Do(r), http.StatusNotFound, r.Path)
		}
	})

	t.Run("items", func(t *testing.T) {
		it := createItem(t, api, bob.Token, newItemBody())
		path := itemPath(it.ID)
		res := api.Do(apitest.Request{Method: http.MethodPut, Path: path, Token: admin.Token, Body: `{"name":"Seized"}`})
		if got := requireItemShape(t, res.Body); res.Status != http.StatusOK || got.Name != "Seized" || got.OwnerID != bob.ID {
			t.Fatalf("PUT bob's item as admin = %d %s, want renamed and still bob's", res.Status, res.Body)
		}
		res = mergePatch(api, path, admin.Token, `{"description":null,"owner_id":1}`)
		if got := requireItemShape(t, res.Body); res.Status != http.StatusOK || got.Description != "" || got.OwnerID != bob.ID {
			t.Fatalf("PATCH bob's item as admin = %d %s", res.Status, res.Body)
		}
		requireSameAsGet(t, api, res.Body, it.ID)
		// The owner keeps their rights, another user has none.
		requireProblem(t, mergePatch(api, path, ada.Token, `{"name":"Mine"}`), http.StatusForbidden, path)
		if res := mergePatch(api, path, bob.Token, `{"name":"Mine again"}`); res.Status != http.StatusOK {
			t.Errorf("PATCH by the owner after the admin = %d %s", res.Status, res.Body)
		}
		if res := api.Do(apitest.Request{Method: http.MethodDelete, Path: path, Token: admin.Token}); res.Status != http.StatusNoContent {
			t.Fatalf("DELETE bob's item as admin = %d %s", res.Status, res.Body)
		}
		requireProblem(t, api.Do(apitest.Request{Method: http.MethodGet, Path: path}), http.StatusNotFound, path)
		for _, method := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
			r := apitest.Request{Method: method, Path: itemPath(424242), Token: admin.Token}
			if method != http.MethodDelete {
				r.Body = `{"name":"Nothing"}`
			}
			requireProblem(t, api.Do(r), http.StatusNotFound, r.Path)
		}
	})

	t.Run("deleting a user", func(t *testing.T) {
		carl := api.SignUp("carl@example.com", "Carl", "password")
		it := createItem(t, api, carl.Token, newItemBody())
		if res := api.Do(apitest.Request{Method: http.MethodDelete, Path: uaUserPath(carl.ID), Token: admin.Token}); res.Status != http.StatusNoContent {
			t.Fatalf("DELETE carl as admin = %d %s", res.Status, res.Body)
		}
		requireProblem(t, api.Do(apitest.Request{Method: http.MethodGet, Path: itemPath(it.ID)}), http.StatusNotFound, itemPath(it.ID))
		uaCheckUnauthorized(t, api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: carl.Token}), "/users/me")
		sessRefused(t, api, "a token of a user an admin deleted", carl.Refresh)
		// The admin is still one, and still there.
		if res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users", Token: admin.Token}); res.Status != http.StatusOK {
			t.Errorf("GET /users after the delete = %d", res.Status)
		}
	})
}

// A role is the database's, read on every protected request: a promotion
// or a demotion takes effect on the very next request of a token issued
// before it, and no claim in a token makes anyone an admin.
func TestRoleTakesEffectOnTheNextRequest(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	bob := api.SignUp("bob@example.com", "Bob", "password")
	bobItem := createItem(t, api, bob.Token, newItemBody())
	asAda := func(method, path string, body any) int {
		return api.Do(apitest.Request{Method: method, Path: path, Token: ada.Token, Body: body}).Status
	}
	privileged := func(t *testing.T, want int) {
		t.Helper()
		for _, r := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "/users", nil},
			{http.MethodGet, uaUserPath(bob.ID), nil},
			{http.MethodPatch, uaUserPath(bob.ID), `{}`},
			{http.MethodPatch, itemPath(bobItem.ID), `{}`},
		} {
			got := asAda(r.method, r.path, r.body)
			if (want == http.StatusOK) != (got == http.StatusOK) || (want == http.StatusForbidden && got != http.StatusForbidden) {
				t.Errorf("%s %s as ada = %d, want %d", r.method, r.path, got, want)
			}
		}
	}

	privileged(t, http.StatusForbidden)
	api.SetRole("ada@example.com", "admin")
	privileged(t, http.StatusOK)
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: ada.Token})
	if u := uaDecodeUser(t, res.Body); u.Role != "admin" {
		t.Errorf("role after promotion = %q", u.Role)
	}
	api.SetRole("ada@example.com", "user")
	privileged(t, http.StatusForbidden)
	res = api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: ada.Token})
	if u := uaDecodeUser(t, res.Body); u.Role != "user" {
		t.Errorf("role after demotion = %q", u.Role)
	}

	// A token that claims more than the database says is worth nothing
	// more: the role is never taken from the token.
	for _, claim := range []any{"admin", []string{"admin"}, true} {
		forged := uaToken(t, api, jwt.SigningMethodHS256, []byte(api.Config.JWTSecret), func(c *jwt.MapClaims) {
			(*c)["sub"] = strconv.FormatInt(ada.ID, 10)
			(*c)["role"] = claim
			(*c)["roles"] = claim
			(*c)["admin"] = claim
		})
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users", Token: forged})
		requireProblem(t, res, http.StatusForbidden, "/users")
	}
	// Nor does anything a user sends about themselves.
	for _, body := range []string{`{"role":"admin"}`, `{"name":"Ada","role":"admin"}`} {
		for _, method := range []string{http.MethodPut, http.MethodPatch} {
			if got := asAda(method, uaUserPath(ada.ID), body); got != http.StatusOK {
				t.Errorf("%s self with %s = %d", method, body, got)
			}
		}
	}
	privileged(t, http.StatusForbidden)
	var role string
	if err := api.DB.Get(&role, `SELECT role FROM users WHERE id = $1`, ada.ID); err != nil || role != "user" {
		t.Errorf("stored role = %q (%v), want user", role, err)
	}
}
