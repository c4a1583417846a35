package controllers_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/example/apitemplate/controllers"
	"github.com/example/apitemplate/docs"
	"github.com/example/apitemplate/internal/apitest"
)

// TestRouteAccessIsEnforced holds every route of the tables the router
// mounts (and `server routes` prints) to the access it declares, by
// asking it as each kind of caller. It reads the tables, not a list of its
// own, so a route a cloned project adds is held to its word too.
//
//   - public: no token is asked for;
//   - any other: no token, a bad one, or one of a deleted user is 401;
//   - bearer: any signed-in user gets past the door;
//   - admin: a signed-in non-admin is 403, an admin is not;
//   - self-or-admin: a non-admin on another user's id (or a missing one)
//     is 403; the user themselves and an admin are not;
//   - owner-or-admin: a non-owner on an existing resource is 403, on a
//     missing one 404; the owner and an admin are not refused.
func TestRouteAccessIsEnforced(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	admin := api.SignUpAdmin("root@example.com", "Root", "password")
	user := api.SignUp("user@example.com", "User", "password")
	ghost := api.SignUp("ghost@example.com", "Ghost", "password")
	if res := api.Do(apitest.Request{Method: http.MethodDelete, Path: uaUserPath(ghost.ID), Token: ghost.Token}); res.Status != http.StatusNoContent {
		t.Fatalf("delete ghost = %d %s", res.Status, res.Body)
	}
	doc := accessDocument(t)

	// A route may delete the user (or the resource) it acts on, so each
	// check of a DELETE gets its own; the others share one.
	signUps := 0
	var shared *apitest.User
	victim := func(t *testing.T, rt controllers.Route) apitest.User {
		t.Helper()
		if rt.Method != http.MethodDelete && shared != nil {
			return *shared
		}
		signUps++
		v := api.SignUp(fmt.Sprintf("victim%d@example.com", signUps), "Victim", "password")
		if rt.Method != http.MethodDelete {
			shared = &v
		}
		return v
	}
	ask := func(rt controllers.Route, id, token string) *apitest.Response {
		r := apitest.Request{Method: rt.Method, Path: accessPath(rt.Path, id), Token: token}
		switch rt.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			r.Body = `{}`
		}
		return api.Do(r)
	}
	notRefused := func(t *testing.T, who string, res *apitest.Response) {
		t.Helper()
		if res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden || res.Status >= 500 {
			t.Errorf("as %s: %d %s, want neither 401 nor 403", who, res.Status, res.Body)
		}
	}

	counts := map[controllers.Access]int{}
	for _, rt := range api.Routes.All() {
		counts[rt.Access]++
		t.Run(rt.Method+" "+rt.Path+" "+rt.Access.String(), func(t *testing.T) {
			if rt.Access == controllers.Public {
				if res := ask(rt, "424242", ""); res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden {
					t.Errorf("a public route without a token: %d %s", res.Status, res.Body)
				}
				return
			}
			path := accessPath(rt.Path, strconv.FormatInt(user.ID, 10))
			for name, token := range map[string]string{"no token": "", "a bad token": "not.a.token", "a deleted user's token": ghost.Token} {
				res := ask(rt, strconv.FormatInt(user.ID, 10), token)
				if res.Status != http.StatusUnauthorized {
					t.Errorf("with %s: %d %s, want 401", name, res.Status, res.Body)
					continue
				}
				uaCheckUnauthorized(t, res, path)
			}

			switch rt.Access {
			case controllers.Bearer:
				notRefused(t, "a signed-in user", ask(rt, strconv.FormatInt(user.ID, 10), user.Token))
			case controllers.Admin:
				requireProblem(t, ask(rt, strconv.FormatInt(user.ID, 10), user.Token), http.StatusForbidden, path)
				notRefused(t, "an admin", ask(rt, strconv.FormatInt(user.ID, 10), admin.Token))
			case controllers.SelfOrAdmin:
				if !strings.Contains(rt.Path, ":") {
					t.Fatalf("a self-or-admin route names no user in its path")
				}
				v := victim(t, rt)
				id := strconv.FormatInt(v.ID, 10)
				requireProblem(t, ask(rt, id, user.Token), http.StatusForbidden, accessPath(rt.Path, id))
				requireProblem(t, ask(rt, "424242", user.Token), http.StatusForbidden, accessPath(rt.Path, "424242"))
				notRefused(t, "the user themselves", ask(rt, id, v.Token))
				v = victim(t, rt)
				notRefused(t, "an admin", ask(rt, strconv.FormatInt(v.ID, 10), admin.Token))
				if res := ask(rt, "424242", admin.Token); res.Status != http.StatusNotFound {
					t.Errorf("an admin on a missing user: %d %s, want 404", res.Status, res.Body)
				}
			case controllers.OwnerOrAdmin:
				owner := victim(t, rt)
				id := accessCreate(t, api, doc, rt.Path, owner.Token)
				requireProblem(t, ask(rt, id, user.Token), http.StatusForbidden, accessPath(rt.Path, id))
				requireProblem(t, ask(rt, "424242", user.Token), http.StatusNotFound, accessPath(rt.Path, "424242"))
				notRefused(t, "an admin", ask(rt, id, admin.Token))
				id = accessCreate(t, api, doc, rt.Path, owner.Token)
				notRefused(t, "the owner", ask(rt, id, owner.Token))
			default:
				t.Fatalf("access %v (%s) is not one this test knows", rt.Access, rt.Access)
			}
		})
	}
	// The tables this template ships use every kind of access.
	for _, a := range []controllers.Access{controllers.Public, controllers.Bearer, controllers.Admin, controllers.SelfOrAdmin, controllers.OwnerOrAdmin} {
		if counts[a] == 0 {
			t.Errorf("no route is %s: the tables or this test are out of date", a)
		}
	}
}

var accessParam = regexp.MustCompile(`[:*][A-Za-z0-9_]+`)

// accessPath is a route's path with its parameters filled in with id.
func accessPath(route, id string) string {
	return accessParam.ReplaceAllStringFunc(route, func(p string) string {
		if p[0] == '*' {
			return "index.html"
		}
		return id
	})
}

func accessDocument(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatalf("docs/openapi.json: %v", err)
	}
	return doc
}

// accessCreate makes a resource of the kind an owner-or-admin route acts
// on, as the caller with token: it POSTs to the collection the route's
// resource is in a body made of the examples the documents give for each
// field, and returns the new resource's id.
func accessCreate(t *testing.T, api *apitest.API, doc *openapi3.T, route, token string) string {
	t.Helper()
	collection := route[:strings.LastIndex(route, "/")]
	item := doc.Paths.Find(collection)
	if item == nil || item.Post == nil || item.Post.RequestBody == nil {
		t.Fatalf("no documented POST %s makes what %s acts on", collection, route)
	}
	media := item.Post.RequestBody.Value.Content.Get("application/json")
	if media == nil || media.Schema == nil {
		t.Fatalf("POST %s documents no JSON body", collection)
	}
	body := map[string]any{}
	for name, prop := range media.Schema.Value.Properties {
		if prop.Value.Example == nil {
			t.Fatalf("POST %s: field %s has no example to make a resource with", collection, name)
		}
		body[name] = prop.Value.Example
	}
	res := api.Do(apitest.Request{Method: http.MethodPost, Path: collection, Token: token, Body: body})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST %s %v = %d %s", collection, body, res.Status, res.Body)
	}
	var created struct {
		ID int64 `json:"id"`
	}
	res.JSON(t, &created)
	return strconv.FormatInt(created.ID, 10)
}

// A caller the route does not admit learns nothing else of it: 403 comes
// before the request's own faults, however malformed, for what the caller
// and the path alone decide (admin routes, another user's id).
func TestAccessIsDecidedBeforeTheRequestIsRead(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	bob := api.SignUp("bob@example.com", "Bob", "correct horse")
	other := fmt.Sprintf("/users/%d", bob.ID)
	for _, tt := range []struct {
		method, path, body string
	}{
		{http.MethodGet, "/users?limit=0&sort=nope", ""},
		{http.MethodPut, other, `{"name":""}`},
		{http.MethodPatch, other, `{"name":null}`},
		{http.MethodPut, "/users/424242", `{"email":"not an email"}`},
		{http.MethodDelete, "/users/424242", ""},
	} {
		req := apitest.Request{Method: tt.method, Path: tt.path, Token: ada.Token}
		if tt.body != "" {
			req.Body = tt.body
		}
		res := api.Do(req)
		requireProblem(t, res, http.StatusForbidden, strings.Split(tt.path, "?")[0])
	}
	// A malformed id is the request's fault, which the caller may hear.
	requireFieldErrors(t, api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/abc", Token: ada.Token}), "/users/abc", "id")
}
