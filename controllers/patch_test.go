package controllers_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/example/apitemplate/internal/apitest"
)

// mergePatch sends body to path as a JSON Merge Patch.
func mergePatch(api *apitest.API, path, token string, body any) *apitest.Response {
	return api.Do(apitest.Request{Method: http.MethodPatch, Path: path, Token: token, Body: body,
		Header: map[string]string{"Content-Type": "application/merge-patch+json"}})
}

func TestItemsPatch(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "correct horse")
	bob := api.SignUp("bob@example.com", "Bob", "correct horse")
	orig := createItem(t, api, ada.Token, map[string]any{"name": "Teapot", "description": "Short and stout", "price_cents": 1999})
	path := itemPath(orig.ID)

	t.Run("changes", func(t *testing.T) {
		cur := orig
		steps := []struct {
			name  string
			body  string
			apply func(*itemJSON)
		}{
			{"absent members keep their value", `{}`, func(*itemJSON) {}},
			{"name only", `{"name":"Kettle"}`, func(it *itemJSON) { it.Name = "Kettle" }},
			{"price only", `{"price_cents":2500}`, func(it *itemJSON) { it.PriceCents = 2500 }},
			{"price to zero", `{"price_cents":0}`, func(it *itemJSON) { it.PriceCents = 0 }},
			{"description only", `{"description":"Whistles"}`, func(it *itemJSON) { it.Description = "Whistles" }},
			{"null clears the description", `{"description":null}`, func(it *itemJSON) { it.Description = "" }},
			{"null on a cleared description", `{"description":null}`, func(*itemJSON) {}},
			{"description back", `{"description":"Again"}`, func(it *itemJSON) { it.Description = "Again" }},
			{"empty description", `{"description":""}`, func(it *itemJSON) { it.Description = "" }},
			{"trimmed name", `{"name":"  Pot \t"}`, func(it *itemJSON) { it.Name = "Pot" }},
			{"unknown members ignored", fmt.Sprintf(`{"owner_id":%d,"id":1,"color":"blue","NAME":null,"Price_Cents":null}`, bob.ID), func(*itemJSON) {}},
			{"nested objects are not members", `{"meta":{"name":null}}`, func(*itemJSON) {}},
			{"everything at once", `{"name":"` + strings.Repeat("é", 100) + `","description":"` + strings.Repeat("ü", 1000) + `","price_cents":1000000000000}`,
				func(it *itemJSON) {
					it.Name, it.Description, it.PriceCents = strings.Repeat("é", 100), strings.Repeat("ü", 1000), 1_000_000_000_000
				}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				res := mergePatch(api, path, ada.Token, st.body)
				if res.Status != http.StatusOK {
					t.Fatalf("PATCH %s = %d %s, want 200", st.body, res.Status, res.Body)
				}
				got := requireItemShape(t, res.Body)
				want := cur
				st.apply(&want)
				want.UpdatedAt = got.UpdatedAt
				if got != want {
					t.Errorf("PATCH %s =\n %+v\nwant\n %+v", st.body, got, want)
				}
				if before, after := requireUTCTime(t, "updated_at", cur.UpdatedAt), requireUTCTime(t, "updated_at", got.UpdatedAt); !after.After(before) {
					t.Errorf("updated_at did not move forward: %s -> %s", cur.UpdatedAt, got.UpdatedAt)
				}
				requireSameAsGet(t, api, res.Body, orig.ID)
				cur = got
			})
		}
	})

	t.Run("refused", func(t *testing.T) {
		before := getItem(t, api, orig.ID)
		tests := []struct {
			name   string
			path   string
			token  string
			body   string
			status int
			fields []string
		}{
			{"null name", path, ada.Token, `{"name":null}`, 400, []string{"name"}},
			{"null price", path, ada.Token, `{"price_cents":null}`, 400, []string{"price_cents"}},
			{"null name and price", path, ada.Token, `{"name":null,"price_cents":null,"description":null}`, 400, []string{"name", "price_cents"}},
			{"null name, valid price", path, ada.Token, `{"name":null,"price_cents":5}`, 400, []string{"name"}},
			{"null name, bad price", path, ada.Token, `{"name":null,"price_cents":-1}`, 400, []string{"name", "price_cents"}},
			{"empty name", path, ada.Token, `{"name":""}`, 400, []string{"name"}},
			{"blank name", path, ada.Token, `{"name":"   "}`, 400, []string{"name"}},
			{"101-character name", path, ada.Token, `{"name":"` + strings.Repeat("é", 101) + `"}`, 400, []string{"name"}},
			{"1001-character description", path, ada.Token, `{"description":"` + strings.Repeat("d", 1001) + `"}`, 400, []string{"description"}},
			{"negative price", path, ada.Token, `{"price_cents":-1}`, 400, []string{"price_cents"}},
			{"price over the limit", path, ada.Token, `{"price_cents":1000000000001}`, 400, []string{"price_cents"}},
			{"fractional price", path, ada.Token, `{"price_cents":1.5}`, 400, []string{"price_cents"}},
			{"price as a string", path, ada.Token, `{"price_cents":"12"}`, 400, []string{"price_cents"}},
			{"name as a number", path, ada.Token, `{"name":1}`, 400, []string{"name"}},
			{"valid and invalid members", path, ada.Token, `{"name":"Fine","price_cents":-1}`, 400, []string{"price_cents"}},
			{"NUL in the name", path, ada.Token, `{"name":"a\u0000b"}`, 400, []string{"name"}},
			{"id abc", "/items/abc", ada.Token, `{"name":"x"}`, 400, []string{"id"}},
			{"id 0", "/items/0", ada.Token, `{"name":"x"}`, 400, []string{"id"}},
			{"no token", path, "", `{"name":"x"}`, 401, nil},
			{"bad token", path, "nope", `{"name":"x"}`, 401, nil},
			{"someone else's", path, bob.Token, `{"name":"Mine now"}`, 403, nil},
			{"someone else's, empty patch", path, bob.Token, `{}`, 403, nil},
			{"missing", itemPath(424242), ada.Token, `{"name":"x"}`, 404, nil},
			{"missing, as a user without items", itemPath(424242), bob.Token, `{}`, 404, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := mergePatch(api, tt.path, tt.token, tt.body)
				if tt.status == http.StatusBadRequest {
					requireFieldErrors(t, res, tt.path, tt.fields...)
					return
				}
				requireProblem(t, res, tt.status, tt.path)
			})
		}
		// A merge patch is an object; anything else is malformed.
		for _, body := range []string{``, `{`, `null`, `[]`, `[{"name":"x"}]`, `"name"`, `1`, `true`, `{"name":"x"} {}`} {
			t.Run(fmt.Sprintf("malformed %q", body), func(t *testing.T) {
				res := mergePatch(api, path, ada.Token, body)
				requireProblem(t, res, http.StatusBadRequest, path)
				requireNoErrorsMember(t, res)
			})
		}
		if after := getItem(t, api, orig.ID); !bytes.Equal(after, before) {
			t.Errorf("a refused PATCH changed the item:\n before %s\n after  %s", before, after)
		}
	})
}

func TestUsersPatch(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	signUp := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("ada@example.com", "Ada", "password")})
	orig := uaDecodeUser(t, signUp.Body)
	token := api.Login("ada@example.com", "password")
	api.SignUp("bob@example.com", "Bob", "password")
	path := uaUserPath(orig.ID)

	t.Run("changes", func(t *testing.T) {
		cur := orig
		for _, st := range []struct {
			name, body   string
			email, uname string
		}{
			{"absent members keep their value", `{}`, "ada@example.com", "Ada"},
			{"name only", `{"name":"  Ada King "}`, "ada@example.com", "Ada King"},
			{"email only", `{"email":" Ada.King@Example.COM "}`, "ada.king@example.com", "Ada King"},
			{"both", `{"email":"countess@example.com","name":"Countess"}`, "countess@example.com", "Countess"},
			{"own email in another case", `{"email":"COUNTESS@example.com"}`, "countess@example.com", "Countess"},
			{"unknown members ignored", `{"role":"admin","password":"hijacked!","id":7,"Email":null}`, "countess@example.com", "Countess"},
		} {
			t.Run(st.name, func(t *testing.T) {
				res := mergePatch(api, path, token, st.body)
				if res.Status != http.StatusOK {
					t.Fatalf("PATCH %s = %d %s", st.body, res.Status, res.Body)
				}
				u := uaDecodeUser(t, res.Body)
				if u.ID != orig.ID || u.Email != st.email || u.Name != st.uname || u.Role != "user" || u.CreatedAt != orig.CreatedAt {
					t.Errorf("PATCH %s = %+v, want email %q name %q role user", st.body, u, st.email, st.uname)
				}
				if before, after := requireUTCTime(t, "updated_at", cur.UpdatedAt), requireUTCTime(t, "updated_at", u.UpdatedAt); !after.After(before) {
					t.Errorf("updated_at did not move forward: %s -> %s", cur.UpdatedAt, u.UpdatedAt)
				}
				for _, p := range []string{path, "/users/me"} {
					got := api.Do(apitest.Request{Method: http.MethodGet, Path: p, Token: token})
					uaSameJSON(t, "GET "+p+" vs PATCH", got.Body, res.Body)
				}
				cur = u
			})
		}
		// The password was not touched, and the email moved the login.
		if res := uaLogin(api, "countess@example.com", "hijacked!"); res.Status != http.StatusUnauthorized {
			t.Errorf("login with the ignored password = %d", res.Status)
		}
		api.Login("countess@example.com", "password")
	})

	t.Run("refused", func(t *testing.T) {
		before := api.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: token}).Body
		for _, tt := range []struct {
			name, body string
			fields     []string
		}{
			{"null email", `{"email":null}`, []string{"email"}},
			{"null name", `{"name":null}`, []string{"name"}},
			{"both null", `{"email":null,"name":null}`, []string{"email", "name"}},
			{"null name, bad email", `{"name":null,"email":"nope"}`, []string{"name", "email"}},
			{"email invalid", `{"email":"not-an-email"}`, []string{"email"}},
			{"email blank", `{"email":"  "}`, []string{"email"}},
			{"name empty", `{"name":""}`, []string{"name"}},
			{"name of 101 characters", `{"name":"` + strings.Repeat("é", 101) + `"}`, []string{"name"}},
			{"name is a number", `{"name":5}`, []string{"name"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				uaCheckValidation(t, mergePatch(api, path, token, tt.body), path, tt.fields...)
			})
		}
		for _, body := range []string{``, `{`, `null`, `[]`, `"x"`} {
			t.Run(fmt.Sprintf("malformed %q", body), func(t *testing.T) {
				uaCheckMalformed(t, mergePatch(api, path, token, body), path)
			})
		}
		for _, email := range []string{"bob@example.com", "BOB@Example.com"} {
			p := requireProblem(t, mergePatch(api, path, token, `{"email":"`+email+`"}`), http.StatusConflict, path)
			if p.Detail != "a user with this email already exists" {
				t.Errorf("detail = %q", p.Detail)
			}
		}
		uaSameJSON(t, "user after refused PATCHes", api.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: token}).Body, before)
	})
}
