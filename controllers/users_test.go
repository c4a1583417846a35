package controllers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/example/apitemplate/internal/apitest"
)

// The helpers below carry a "ua" prefix (users and auth) so they cannot clash
// with helpers of the other test files in this package.

// uaCheckValidation asserts a 400 validation problem with exactly one errors
// entry for each of fields, and returns the messages by field.
func uaCheckValidation(t *testing.T, res *apitest.Response, path string, fields ...string) map[string]string {
	t.Helper()
	p := requireProblem(t, res, http.StatusBadRequest, path)
	got := map[string]string{}
	for _, e := range p.Errors {
		if _, dup := got[e.Field]; dup {
			t.Errorf("field %q reported twice: %s", e.Field, res.Body)
		}
		if strings.TrimSpace(e.Message) == "" {
			t.Errorf("field %q has an empty message: %s", e.Field, res.Body)
		}
		got[e.Field] = e.Message
	}
	var gotFields []string
	for f := range got {
		gotFields = append(gotFields, f)
	}
	slices.Sort(gotFields)
	want := slices.Sorted(slices.Values(fields))
	if !slices.Equal(gotFields, want) {
		t.Errorf("errors fields = %v, want %v; body %s", gotFields, want, res.Body)
	}
	return got
}

// uaCheckMalformed asserts a 400 problem that is not a validation failure.
func uaCheckMalformed(t *testing.T, res *apitest.Response, path string) {
	t.Helper()
	p := requireProblem(t, res, http.StatusBadRequest, path)
	if len(p.Errors) != 0 {
		t.Errorf("malformed body got field errors: %s", res.Body)
	}
}

// uaCheckUnauthorized asserts the 401 of a protected route.
func uaCheckUnauthorized(t *testing.T, res *apitest.Response, path string) {
	t.Helper()
	requireProblem(t, res, http.StatusUnauthorized, path)
	if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("WWW-Authenticate = %q, want Bearer", got)
	}
}

// uaUser is a User response, checked for its exact shape.
type uaUser struct {
	ID        int64
	Email     string
	Name      string
	Role      string
	CreatedAt string
	UpdatedAt string
}

// uaDecodeUser asserts that body is exactly a User: the six fields, an id
// that is a positive integer, a role of "user" or "admin" and RFC 3339 UTC
// timestamps.
func uaDecodeUser(t *testing.T, body []byte) uaUser {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("user is not a JSON object (%v): %s", err, body)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	if want := []string{"created_at", "email", "id", "name", "role", "updated_at"}; !slices.Equal(keys, want) {
		t.Fatalf("user fields = %v, want exactly %v", keys, want)
	}
	var u uaUser
	num, ok := m["id"].(json.Number)
	if !ok {
		t.Fatalf("id is not a number: %s", body)
	}
	id, err := strconv.ParseInt(num.String(), 10, 64)
	if err != nil || id <= 0 {
		t.Fatalf("id = %s, want a positive integer", num)
	}
	u.ID = id
	for key, dst := range map[string]*string{"email": &u.Email, "name": &u.Name, "role": &u.Role, "created_at": &u.CreatedAt, "updated_at": &u.UpdatedAt} {
		s, ok := m[key].(string)
		if !ok {
			t.Fatalf("%s is not a string: %s", key, body)
		}
		*dst = s
	}
	if u.Role != "user" && u.Role != "admin" {
		t.Errorf("role = %q, want user or admin", u.Role)
	}
	for _, ts := range []string{u.CreatedAt, u.UpdatedAt} {
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("timestamp %q is not RFC 3339 in UTC", ts)
		}
	}
	return u
}

// uaNoSecrets asserts that body holds neither the password nor a bcrypt hash.
func uaNoSecrets(t *testing.T, body []byte, password string) {
	t.Helper()
	s := string(body)
	if strings.Contains(s, password) || strings.Contains(s, "$2a$") || strings.Contains(s, "$2b$") ||
		strings.Contains(s, "$argon2") || strings.Contains(strings.ToLower(s), "password") {
		t.Errorf("response leaks a password or hash: %s", body)
	}
}

// uaSameJSON asserts that two bodies hold the same JSON value.
func uaSameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v: %s", what, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v: %s", what, err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %s\n want %s", what, got, want)
	}
}

func uaUserPath(id int64) string { return "/users/" + strconv.FormatInt(id, 10) }

func uaSignUpBody(email, name, password string) map[string]any {
	return map[string]any{"email": email, "name": name, "password": password}
}

func TestUsersCreate(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)

	res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users",
		Body: uaSignUpBody("  Ada.Lovelace@Example.COM ", "\t Ada Lovelace  ", "correct horse")})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /users = %d %s, want 201", res.Status, res.Body)
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", res.Header.Get("Content-Type"))
	}
	u := uaDecodeUser(t, res.Body)
	uaNoSecrets(t, res.Body, "correct horse")
	if u.Email != "ada.lovelace@example.com" {
		t.Errorf("email = %q, want trimmed and lower-cased", u.Email)
	}
	if u.Name != "Ada Lovelace" {
		t.Errorf("name = %q, want trimmed", u.Name)
	}
	if u.Role != "user" {
		t.Errorf("role = %q, want user: sign-up always creates a user", u.Role)
	}
	if u.CreatedAt != u.UpdatedAt {
		t.Errorf("new user: created_at %s != updated_at %s", u.CreatedAt, u.UpdatedAt)
	}
	created, _ := time.Parse(time.RFC3339Nano, u.CreatedAt)
	if d := time.Since(created); d < -time.Minute || d > time.Minute {
		t.Errorf("created_at %s is not about now", u.CreatedAt)
	}
	if got, want := res.Header.Get("Location"), uaUserPath(u.ID); got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}

	// What POST returned is what a later GET returns.
	token := api.Login("ada.lovelace@example.com", "correct horse")
	for _, path := range []string{res.Header.Get("Location"), "/users/me"} {
		got := api.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: token})
		if got.Status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, got.Status, got.Body)
		}
		uaDecodeUser(t, got.Body)
		uaSameJSON(t, "GET "+path+" vs POST /users", got.Body, res.Body)
	}

	// The database holds the normalised values and a bcrypt hash only.
	var row struct {
		Email        string `db:"email"`
		Name         string `db:"name"`
		PasswordHash string `db:"password_hash"`
	}
	if err := api.DB.Get(&row, `SELECT email, name, password_hash FROM users WHERE id = $1`, u.ID); err != nil {
		t.Fatalf("select user: %v", err)
	}
	if row.Email != u.Email || row.Name != u.Name {
		t.Errorf("stored %q %q, want %q %q", row.Email, row.Name, u.Email, u.Name)
	}
	if !strings.HasPrefix(row.PasswordHash, "$2a$") && !strings.HasPrefix(row.PasswordHash, "$2b$") {
		t.Errorf("password_hash = %q, want a bcrypt hash", row.PasswordHash)
	}
	if strings.Contains(row.PasswordHash, "correct horse") {
		t.Errorf("password_hash holds the plain password")
	}
	if err := bcrypt.CompareHashAndPassword([]byte(row.PasswordHash), []byte("correct horse")); err != nil {
		t.Errorf("password_hash does not match the password: %v", err)
	}
	if cost, err := bcrypt.Cost([]byte(row.PasswordHash)); err != nil || cost != api.Config.BcryptCost {
		t.Errorf("bcrypt cost = %d (%v), want the configured %d", cost, err, api.Config.BcryptCost)
	}

	// Two users with the same password get different (salted) hashes.
	other := api.SignUp("other@example.com", "Other", "correct horse")
	var otherHash string
	if err := api.DB.Get(&otherHash, `SELECT password_hash FROM users WHERE id = $1`, other.ID); err != nil {
		t.Fatalf("select user: %v", err)
	}
	if otherHash == row.PasswordHash {
		t.Errorf("two users with the same password have the same hash: not salted")
	}
	if other.ID <= u.ID {
		t.Errorf("second user id %d is not after first %d", other.ID, u.ID)
	}
}

func TestUsersCreateAcceptsBoundaries(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	email255 := strings.Repeat("a", 255-len("@example.com")) + "@example.com"
	tests := []struct {
		name      string
		body      any
		wantEmail string
		wantName  string
	}{
		{"email of 255 characters", uaSignUpBody(email255, "Ada", "password"), email255, "Ada"},
		{"email with plus tag", uaSignUpBody("Ada+Tag@Example.com", "Ada", "password"), "ada+tag@example.com", "Ada"},
		{"name of 1 character", uaSignUpBody("one@example.com", "A", "password"), "one@example.com", "A"},
		{"name of 100 ASCII characters", uaSignUpBody("ascii@example.com", strings.Repeat("n", 100), "password"), "ascii@example.com", strings.Repeat("n", 100)},
		{"name of 100 two-byte characters", uaSignUpBody("utf8@example.com", strings.Repeat("é", 100), "password"), "utf8@example.com", strings.Repeat("é", 100)},
		{"name of 100 four-byte characters", uaSignUpBody("emoji@example.com", strings.Repeat("😀", 100), "password"), "emoji@example.com", strings.Repeat("😀", 100)},
		{"name of 100 characters once trimmed", uaSignUpBody("trim@example.com", "   "+strings.Repeat("x", 100)+"   ", "password"), "trim@example.com", strings.Repeat("x", 100)},
		{"password of 8 bytes", uaSignUpBody("pw8@example.com", "Ada", "12345678"), "pw8@example.com", "Ada"},
		{"password of 72 bytes", uaSignUpBody("pw72@example.com", "Ada", strings.Repeat("p", 72)), "pw72@example.com", "Ada"},
		{"password of 72 bytes in 24 characters", uaSignUpBody("pw72mb@example.com", "Ada", strings.Repeat("€", 24)), "pw72mb@example.com", "Ada"},
		{"unknown fields ignored", map[string]any{
			"email": "extra@example.com", "name": "Ada", "password": "password",
			"id": 999, "is_admin": true, "role": "admin", "password_hash": "x", "created_at": "2000-01-01T00:00:00Z",
		}, "extra@example.com", "Ada"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: tt.body})
			if res.Status != http.StatusCreated {
				t.Fatalf("POST /users = %d %s, want 201", res.Status, res.Body)
			}
			u := uaDecodeUser(t, res.Body)
			if u.Email != tt.wantEmail || u.Name != tt.wantName {
				t.Errorf("got email %q name %q, want %q %q", u.Email, u.Name, tt.wantEmail, tt.wantName)
			}
			if u.ID == 999 || strings.HasPrefix(u.CreatedAt, "2000") || u.Role != "user" {
				t.Errorf("unknown or read-only fields were used: %s", res.Body)
			}
			password, _ := tt.body.(map[string]any)["password"].(string)
			api.Login(u.Email, password) // the exact password works, not a cut-off one
			if len(password) == 72 {
				// Only the last character differs: all 72 bytes count.
				last, size := utf8.DecodeLastRuneInString(password)
				alt := "q"
				if last >= utf8.RuneSelf {
					alt = "₤"
				}
				wrong := api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/login",
					Body: map[string]string{"email": u.Email, "password": password[:len(password)-size] + alt}})
				if wrong.Status != http.StatusUnauthorized {
					t.Errorf("login with the last character changed = %d %s, want 401", wrong.Status, wrong.Body)
				}
			}
		})
	}
}

// The contract counts passwords in bytes: 8 bytes made of 4 two-byte
// characters is long enough.
func TestUsersCreatePasswordLengthCountsBytes(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("bytes@example.com", "Ada", "éééé")})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /users with an 8-byte, 4-character password = %d %s, want 201", res.Status, res.Body)
	}
}

func TestUsersCreateValidation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	long := func(n int) string { return strings.Repeat("a", n-len("@example.com")) + "@example.com" }
	tests := []struct {
		name   string
		body   any
		fields []string
		// messages, where the contract shows them
		messages map[string]string
	}{
		{"empty object", `{}`, []string{"email", "name", "password"}, map[string]string{"email": "is required", "name": "is required", "password": "is required"}},
		{"null", `null`, []string{"email", "name", "password"}, nil},
		{"missing email", map[string]any{"name": "Ada", "password": "password"}, []string{"email"}, nil},
		{"missing name", map[string]any{"email": "ada@example.com", "password": "password"}, []string{"name"}, nil},
		{"missing password", map[string]any{"email": "ada@example.com", "name": "Ada"}, []string{"password"}, nil},
		{"null fields", `{"email":null,"name":null,"password":null}`, []string{"email", "name", "password"}, nil},
		{"email not an address", uaSignUpBody("not-an-email", "Ada", "password"), []string{"email"}, map[string]string{"email": "must be a valid email address"}},
		{"email without local part", uaSignUpBody("@example.com", "Ada", "password"), []string{"email"}, nil},
		{"email without domain", uaSignUpBody("ada@", "Ada", "password"), []string{"email"}, nil},
		{"email with display name", uaSignUpBody("Ada <ada@example.com>", "Ada", "password"), []string{"email"}, nil},
		{"email with inner space", uaSignUpBody("ada lovelace@example.com", "Ada", "password"), []string{"email"}, nil},
		{"email blank", uaSignUpBody("   ", "Ada", "password"), []string{"email"}, nil},
		{"email of 256 characters", uaSignUpBody(long(256), "Ada", "password"), []string{"email"}, nil},
		{"name empty", uaSignUpBody("ada@example.com", "", "password"), []string{"name"}, nil},
		{"name whitespace only", uaSignUpBody("ada@example.com", " \t\n ", "password"), []string{"name"}, nil},
		{"name no-break spaces only", uaSignUpBody("ada@example.com", "\u00a0\u00a0", "password"), []string{"name"}, nil},
		{"name of 101 characters", uaSignUpBody("ada@example.com", strings.Repeat("n", 101), "password"), []string{"name"}, nil},
		{"name of 101 two-byte characters", uaSignUpBody("ada@example.com", strings.Repeat("é", 101), "password"), []string{"name"}, nil},
		{"password of 7 bytes", uaSignUpBody("ada@example.com", "Ada", "1234567"), []string{"password"}, map[string]string{"password": "must be at least 8 characters"}},
		{"password empty", uaSignUpBody("ada@example.com", "Ada", ""), []string{"password"}, nil},
		{"password of 73 bytes", uaSignUpBody("ada@example.com", "Ada", strings.Repeat("p", 73)), []string{"password"}, nil},
		{"password of 74 bytes in 37 characters", uaSignUpBody("ada@example.com", "Ada", strings.Repeat("é", 37)), []string{"password"}, nil},
		{"everything wrong", uaSignUpBody("nope", "", "short"), []string{"email", "name", "password"}, map[string]string{"email": "must be a valid email address", "password": "must be at least 8 characters"}},
		{"name is a number", `{"email":"ada@example.com","name":5,"password":"password"}`, []string{"name"}, nil},
		{"email is a bool", `{"email":true,"name":"Ada","password":"password"}`, []string{"email"}, nil},
		{"password is a number", `{"email":"ada@example.com","name":"Ada","password":12345678}`, []string{"password"}, nil},
		{"name is an object", `{"email":"ada@example.com","name":{"first":"Ada"},"password":"password"}`, []string{"name"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: tt.body})
			got := uaCheckValidation(t, res, "/users", tt.fields...)
			for field, msg := range tt.messages {
				if got[field] != msg {
					t.Errorf("message for %s = %q, want %q", field, got[field], msg)
				}
			}
		})
	}
	var n int
	if err := api.DB.Get(&n, `SELECT count(*) FROM users`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d users stored by invalid requests", n)
	}
}

func TestUsersCreateMalformedBody(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	for _, body := range []string{
		``,
		`{`,
		`{"email":"ada@example.com","name":"Ada","password":"password"`,
		`not json`,
		`{'email':'ada@example.com'}`,
		`[]`,
		`"ada@example.com"`,
		`{"email":"ada@example.com","name":"Ada","password":"password"}{}`,
	} {
		t.Run(fmt.Sprintf("%q", body), func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: body,
				Header: map[string]string{"Content-Type": "application/json"}})
			uaCheckMalformed(t, res, "/users")
		})
	}
	t.Run("not JSON content type", func(t *testing.T) {
		res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users",
			Body:   `{"email":"ada@example.com","name":"Ada","password":"password"}`,
			Header: map[string]string{"Content-Type": "text/plain"}})
		requireProblem(t, res, http.StatusUnsupportedMediaType, "/users")
	})
}

func TestUsersCreateDuplicateEmail(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	first := api.SignUp("ada@example.com", "Ada", "password")
	hashes := scrapeAPI(t, api)["password_hashes_total"]
	for _, email := range []string{"ada@example.com", "ADA@EXAMPLE.COM", "  Ada@Example.com\t"} {
		t.Run(email, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody(email, "Someone Else", "different password")})
			p := requireProblem(t, res, http.StatusConflict, "/users")
			if p.Detail != "a user with this email already exists" {
				t.Errorf("detail = %q", p.Detail)
			}
		})
	}
	// A taken email is refused before the password is hashed.
	if after := scrapeAPI(t, api)["password_hashes_total"]; after != hashes {
		t.Errorf("password_hashes_total went from %v to %v over sign-ups with a taken email, want no hashing", hashes, after)
	}
	var n int
	if err := api.DB.Get(&n, `SELECT count(*) FROM users`); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d users stored, want 1", n)
	}
	// The original account is untouched: its password still works.
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: api.Login("ada@example.com", "password")})
	if u := uaDecodeUser(t, res.Body); u.ID != first.ID || u.Name != "Ada" {
		t.Errorf("original user changed: %s", res.Body)
	}
}

func TestUsersList(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	var created [][]byte
	for i := range 5 {
		res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users",
			Body: uaSignUpBody(fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("User %d", i), "password")})
		if res.Status != http.StatusCreated {
			t.Fatalf("sign up: %d %s", res.Status, res.Body)
		}
		created = append(created, res.Body)
	}
	token := api.Login("user0@example.com", "password")
	// Only admins list users; the others are refused whatever they ask.
	other := api.Login("user1@example.com", "password")
	for _, query := range []string{"", "?limit=2", "?q=user"} {
		requireProblem(t, api.Do(apitest.Request{Method: http.MethodGet, Path: "/users" + query, Token: other}), http.StatusForbidden, "/users")
	}
	api.SetRole("user0@example.com", "admin")
	requireProblem(t, api.Do(apitest.Request{Method: http.MethodGet, Path: "/users", Token: other}), http.StatusForbidden, "/users")
	// The promotion shows in the admin's own user.
	created[0] = api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: token}).Body
	if u := uaDecodeUser(t, created[0]); u.Role != "admin" {
		t.Fatalf("promoted user's role = %q, want admin", u.Role)
	}

	type page struct {
		Items  []json.RawMessage `json:"items"`
		Limit  int               `json:"limit"`
		Offset int               `json:"offset"`
		Total  int64             `json:"total"`
	}
	tests := []struct {
		query       string
		limit, offs int
		first, n    int // index into created of the first item, and how many
	}{
		{"", 50, 0, 0, 5},
		{"?limit=2", 2, 0, 0, 2},
		{"?limit=2&offset=2", 2, 2, 2, 2},
		{"?limit=2&offset=4", 2, 4, 4, 1},
		{"?offset=3", 50, 3, 3, 2},
		{"?offset=5", 50, 5, 0, 0},
		{"?offset=10000", 50, 10000, 0, 0},
		{"?limit=1", 1, 0, 0, 1},
		{"?limit=100", 100, 0, 0, 5},
		{"?limit=3&offset=0&unknown=x", 3, 0, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users" + tt.query, Token: token})
			if res.Status != http.StatusOK {
				t.Fatalf("GET /users%s = %d %s", tt.query, res.Status, res.Body)
			}
			var raw map[string]json.RawMessage
			res.JSON(t, &raw)
			if len(raw) != 6 || raw["items"] == nil || raw["limit"] == nil || raw["offset"] == nil || raw["total"] == nil ||
				string(raw["total_exact"]) != "true" || raw["next_cursor"] == nil {
				t.Errorf("page members: %s, want exactly items, limit, offset, total, total_exact, next_cursor", res.Body)
			}
			if more := tt.offs+tt.n < 5; more != (string(raw["next_cursor"]) != "null") {
				t.Errorf("next_cursor = %s, want one only when rows follow", raw["next_cursor"])
			}
			if string(raw["items"]) == "null" {
				t.Errorf("items is null, want an array")
			}
			var p page
			res.JSON(t, &p)
			if p.Limit != tt.limit || p.Offset != tt.offs || p.Total != 5 {
				t.Errorf("limit %d offset %d total %d, want %d %d 5", p.Limit, p.Offset, p.Total, tt.limit, tt.offs)
			}
			if len(p.Items) != tt.n {
				t.Fatalf("%d items, want %d", len(p.Items), tt.n)
			}
			for i, item := range p.Items {
				uaDecodeUser(t, item)
				uaSameJSON(t, fmt.Sprintf("item %d", i), item, created[tt.first+i])
			}
			uaNoSecrets(t, res.Body, "password")
		})
	}
}

func TestUsersListBadQuery(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	token := api.SignUpAdmin("ada@example.com", "Ada", "password").Token
	tests := []struct {
		query  string
		fields []string
	}{
		{"limit=0", []string{"limit"}},
		{"limit=101", []string{"limit"}},
		{"limit=-1", []string{"limit"}},
		{"limit=abc", []string{"limit"}},
		{"limit=1.5", []string{"limit"}},
		{"limit=", []string{"limit"}},
		{"limit=1e2", []string{"limit"}},
		{"limit=99999999999999999999", []string{"limit"}},
		{"offset=-1", []string{"offset"}},
		{"offset=x", []string{"offset"}},
		{"offset=2.0", []string{"offset"}},
		{"limit=0&offset=-1", []string{"limit", "offset"}},
		{"limit=x&offset=y", []string{"limit", "offset"}},
		{"limit=1000&offset=0", []string{"limit"}},
		{"offset=10001", []string{"offset"}},
		{"sort=email", []string{"sort"}},
		{"sort=price_cents", []string{"sort"}},
		{"sort=", []string{"sort"}},
		{"q=", []string{"q"}},
		{"q=" + strings.Repeat("a", 101), []string{"q"}},
		{"cursor=x", []string{"cursor"}},
		{"sort=x&q=&offset=-1", []string{"sort", "q", "offset"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users?" + tt.query, Token: token})
			uaCheckValidation(t, res, "/users", tt.fields...)
		})
	}
}

// Users sort by id, created_at or name, and q finds a part of a name or an
// email; a cursor walks the same order and is bound to it.
func TestUsersListSortFilterCursor(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	names := []string{"Zoe", "ada", "Bob", "Ada", "carl"}
	for i, n := range names {
		api.SignUp(fmt.Sprintf("u%d@example.com", i), n, "password")
	}
	api.SetRole("u0@example.com", "admin")
	token := api.Login("u0@example.com", "password")
	list := func(t *testing.T, query string) (ids []int64, next *string) {
		t.Helper()
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users?" + query, Token: token})
		if res.Status != http.StatusOK {
			t.Fatalf("GET /users?%s = %d %s", query, res.Status, res.Body)
		}
		var p struct {
			Items []struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		res.JSON(t, &p)
		for _, u := range p.Items {
			ids = append(ids, u.ID)
		}
		return ids, p.NextCursor
	}
	walk := func(t *testing.T, query string) []int64 {
		t.Helper()
		ids, next := list(t, query+"&limit=2")
		for next != nil {
			var more []int64
			more, next = list(t, query+"&limit=2&cursor="+url.QueryEscape(*next))
			ids = append(ids, more...)
		}
		return ids
	}
	byID, _ := list(t, "sort=id")
	if !slices.IsSorted(byID) || len(byID) != len(names) {
		t.Fatalf("sort=id: %v", byID)
	}
	for _, query := range []string{"sort=id", "sort=-id", "sort=name", "sort=-name", "sort=created_at", "sort=-created_at", "q=A&sort=-name"} {
		all, _ := list(t, query)
		if got := walk(t, query); !slices.Equal(got, all) {
			t.Errorf("%s: by cursor %v, in one page %v", query, got, all)
		}
	}
	reversed, _ := list(t, "sort=-id")
	if slices.Reverse(reversed); !slices.Equal(reversed, byID) {
		t.Errorf("sort=-id is not sort=id reversed: %v", reversed)
	}
	if got, _ := list(t, "q=EXAMPLE.COM"); len(got) != len(names) {
		t.Errorf("q=EXAMPLE.COM found %v, want every user (by email)", got)
	}
	if got, _ := list(t, "q=ad"); len(got) != 2 {
		t.Errorf("q=ad found %v, want Ada and ada", got)
	}
	_, next := list(t, "sort=name&limit=1")
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users?sort=-name&cursor=" + url.QueryEscape(*next), Token: token})
	uaCheckValidation(t, res, "/users", "cursor")
}

func TestUsersMe(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	signUp := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("ada@example.com", "Ada", "password")})
	api.SignUp("bob@example.com", "Bob", "password")
	token := api.Login("ada@example.com", "password")
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: token})
	if res.Status != http.StatusOK {
		t.Fatalf("GET /users/me = %d %s", res.Status, res.Body)
	}
	uaDecodeUser(t, res.Body)
	uaSameJSON(t, "GET /users/me", res.Body, signUp.Body)
	uaNoSecrets(t, res.Body, "password")
}

func TestUsersGet(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	bobRes := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("bob@example.com", "Bob", "password")})
	bob := uaDecodeUser(t, bobRes.Body)

	admin := api.SignUpAdmin("root@example.com", "Root", "password")

	t.Run("self", func(t *testing.T) {
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: uaUserPath(bob.ID), Token: api.Login("bob@example.com", "password")})
		if res.Status != http.StatusOK {
			t.Fatalf("GET = %d %s", res.Status, res.Body)
		}
		uaDecodeUser(t, res.Body)
		uaSameJSON(t, "GET /users/{bob} as bob", res.Body, bobRes.Body)
	})
	t.Run("another user", func(t *testing.T) {
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: uaUserPath(bob.ID), Token: ada.Token})
		requireProblem(t, res, http.StatusForbidden, uaUserPath(bob.ID))
		if strings.Contains(string(res.Body), "bob@example.com") {
			t.Errorf("the 403 shows bob: %s", res.Body)
		}
	})
	t.Run("another user, as an admin", func(t *testing.T) {
		res := api.Do(apitest.Request{Method: http.MethodGet, Path: uaUserPath(bob.ID), Token: admin.Token})
		if res.Status != http.StatusOK {
			t.Fatalf("GET = %d %s", res.Status, res.Body)
		}
		uaDecodeUser(t, res.Body)
		uaSameJSON(t, "GET /users/{bob} as an admin", res.Body, bobRes.Body)
	})
	for _, id := range []string{"999999", "9223372036854775807"} {
		t.Run("missing "+id, func(t *testing.T) {
			// For anyone but an admin, another id is 403 whether or not it
			// exists, so that ids cannot be probed.
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/" + id, Token: ada.Token})
			requireProblem(t, res, http.StatusForbidden, "/users/"+id)
			res = api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/" + id, Token: admin.Token})
			requireProblem(t, res, http.StatusNotFound, "/users/"+id)
		})
	}
	for _, id := range []string{"abc", "0", "-1", "1.5", "1e3", "0x10", "9223372036854775808", "99999999999999999999999"} {
		t.Run("bad id "+id, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/" + id, Token: ada.Token})
			uaCheckValidation(t, res, "/users/"+id, "id")
		})
	}
}

// Every users route but sign-up needs a bearer token; without one the answer
// is 401 before anything else is looked at, even a bad id or body.
func TestUsersRequireAuth(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	self := uaUserPath(ada.ID)
	tests := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/users", nil},
		{http.MethodGet, "/users?limit=0", nil},
		{http.MethodGet, "/users/me", nil},
		{http.MethodGet, self, nil},
		{http.MethodGet, "/users/abc", nil},
		{http.MethodPut, self, map[string]string{"name": "Mallory"}},
		{http.MethodPut, self, `{`},
		{http.MethodPatch, self, map[string]string{"name": "Mallory"}},
		{http.MethodPatch, self, `{`},
		{http.MethodDelete, self, nil},
		{http.MethodPut, "/users/me/password", map[string]string{"current_password": "password", "new_password": "hijacked!"}},
		{http.MethodPost, "/auth/logout", map[string]string{"refresh_token": ada.Refresh}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: tt.method, Path: tt.path, Body: tt.body})
			uaCheckUnauthorized(t, res, strings.Split(tt.path, "?")[0])
		})
	}
	// Nothing was changed or deleted, and the session goes on.
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: ada.Token})
	if u := uaDecodeUser(t, res.Body); u.Name != "Ada" {
		t.Errorf("user changed without a token: %s", res.Body)
	}
	api.Login("ada@example.com", "password")
	if res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/refresh", Body: map[string]string{"refresh_token": ada.Refresh}}); res.Status != http.StatusOK {
		t.Errorf("refresh after requests without a token = %d %s, want 200", res.Status, res.Body)
	}
}

func TestUsersUpdate(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	signUp := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("ada@example.com", "Ada", "password")})
	orig := uaDecodeUser(t, signUp.Body)
	token := api.Login("ada@example.com", "password")
	path := uaUserPath(orig.ID)

	prev := orig
	tests := []struct {
		name      string
		body      any
		wantEmail string
		wantName  string
	}{
		{"name only", map[string]any{"name": "  Ada King  "}, "ada@example.com", "Ada King"},
		{"email only", map[string]any{"email": " Ada.King@Example.COM "}, "ada.king@example.com", "Ada King"},
		{"both", map[string]any{"email": "countess@example.com", "name": "Countess of Lovelace"}, "countess@example.com", "Countess of Lovelace"},
		{"nothing", `{}`, "countess@example.com", "Countess of Lovelace"},
		{"nulls", `{"email":null,"name":null}`, "countess@example.com", "Countess of Lovelace"},
		{"own email in another case", map[string]any{"email": "COUNTESS@example.com"}, "countess@example.com", "Countess of Lovelace"},
		{"unknown fields ignored", map[string]any{"id": 12345, "password": "hijacked!", "role": "admin", "created_at": "2000-01-01T00:00:00Z", "name": "Ada"}, "countess@example.com", "Ada"},
		{"name of 100 two-byte characters", map[string]any{"name": strings.Repeat("é", 100)}, "countess@example.com", strings.Repeat("é", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodPut, Path: path, Body: tt.body, Token: token})
			if res.Status != http.StatusOK {
				t.Fatalf("PUT = %d %s", res.Status, res.Body)
			}
			u := uaDecodeUser(t, res.Body)
			uaNoSecrets(t, res.Body, "hijacked!")
			if u.ID != orig.ID || u.Email != tt.wantEmail || u.Name != tt.wantName || u.Role != "user" {
				t.Errorf("got %+v, want id %d email %q name %q role user", u, orig.ID, tt.wantEmail, tt.wantName)
			}
			if u.CreatedAt != orig.CreatedAt {
				t.Errorf("created_at changed: %s -> %s", orig.CreatedAt, u.CreatedAt)
			}
			before, _ := time.Parse(time.RFC3339Nano, prev.UpdatedAt)
			after, _ := time.Parse(time.RFC3339Nano, u.UpdatedAt)
			if !after.After(before) {
				t.Errorf("updated_at did not move forward: %s -> %s", prev.UpdatedAt, u.UpdatedAt)
			}
			prev = u
			// What PUT returned is what a later GET returns.
			for _, p := range []string{path, "/users/me"} {
				got := api.Do(apitest.Request{Method: http.MethodGet, Path: p, Token: token})
				uaSameJSON(t, "GET "+p+" vs PUT", got.Body, res.Body)
			}
		})
	}

	// The password was not changed by an unknown "password" field, and the
	// email change moved the login.
	if res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/login",
		Body: map[string]string{"email": "countess@example.com", "password": "hijacked!"}}); res.Status != http.StatusUnauthorized {
		t.Errorf("login with the ignored password = %d, want 401", res.Status)
	}
	if res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/login",
		Body: map[string]string{"email": "ada@example.com", "password": "password"}}); res.Status != http.StatusUnauthorized {
		t.Errorf("login with the old email = %d, want 401", res.Status)
	}
	api.Login("countess@example.com", "password")
	// The old email is free again.
	api.SignUp("ada@example.com", "New Ada", "password")
}

func TestUsersUpdateForbidden(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	bobRes := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody("bob@example.com", "Bob", "password")})
	bob := uaDecodeUser(t, bobRes.Body)
	for _, id := range []int64{bob.ID, 999999} {
		path := uaUserPath(id)
		t.Run(path, func(t *testing.T) {
			for _, method := range []string{http.MethodPut, http.MethodPatch} {
				res := api.Do(apitest.Request{Method: method, Path: path, Body: map[string]string{"name": "Mallory"}, Token: ada.Token})
				requireProblem(t, res, http.StatusForbidden, path)
				// An empty change is still someone else's user.
				res = api.Do(apitest.Request{Method: method, Path: path, Body: `{}`, Token: ada.Token})
				requireProblem(t, res, http.StatusForbidden, path)
				// So is one conditioned on any version, or on a made-up one.
				for _, tag := range []string{"*", `"` + strconv.FormatInt(id, 10) + `-1"`} {
					res = api.Do(apitest.Request{Method: method, Path: path, Body: map[string]string{"name": "Mallory"}, Token: ada.Token,
						Header: map[string]string{"If-Match": tag}})
					requireProblem(t, res, http.StatusForbidden, path)
				}
			}
		})
	}
	res := api.Do(apitest.Request{Method: http.MethodGet, Path: uaUserPath(bob.ID), Token: api.Login("bob@example.com", "password")})
	uaSameJSON(t, "bob after forbidden PUTs", res.Body, bobRes.Body)
}

func TestUsersUpdateConflict(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	api.SignUp("bob@example.com", "Bob", "password")
	path := uaUserPath(ada.ID)
	before := api.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: ada.Token})
	for _, email := range []string{"bob@example.com", "BOB@Example.com", " bob@example.com "} {
		t.Run(email, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodPut, Path: path, Body: map[string]string{"email": email, "name": "Changed"}, Token: ada.Token})
			p := requireProblem(t, res, http.StatusConflict, path)
			if p.Detail != "a user with this email already exists" {
				t.Errorf("detail = %q", p.Detail)
			}
		})
	}
	after := api.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: ada.Token})
	uaSameJSON(t, "user after conflicting PUTs", after.Body, before.Body)
}

func TestUsersUpdateValidation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	path := uaUserPath(ada.ID)
	before := api.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: ada.Token})
	tests := []struct {
		name   string
		body   any
		fields []string
	}{
		{"email invalid", map[string]any{"email": "not-an-email"}, []string{"email"}},
		{"email empty", map[string]any{"email": ""}, []string{"email"}},
		{"email blank", map[string]any{"email": "   "}, []string{"email"}},
		{"email of 256 characters", map[string]any{"email": strings.Repeat("a", 244) + "@example.com"}, []string{"email"}},
		{"name empty", map[string]any{"name": ""}, []string{"name"}},
		{"name whitespace only", map[string]any{"name": "   "}, []string{"name"}},
		{"name of 101 characters", map[string]any{"name": strings.Repeat("é", 101)}, []string{"name"}},
		{"both wrong", map[string]any{"email": "x", "name": ""}, []string{"email", "name"}},
		{"name is a number", `{"name":5}`, []string{"name"}},
		{"email is an array", `{"email":["ada@example.com"]}`, []string{"email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodPut, Path: path, Body: tt.body, Token: ada.Token})
			uaCheckValidation(t, res, path, tt.fields...)
		})
	}
	for _, body := range []string{``, `{`, `[]`, `{"name":"Ada"} x`} {
		t.Run(fmt.Sprintf("malformed %q", body), func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodPut, Path: path, Body: body, Token: ada.Token,
				Header: map[string]string{"Content-Type": "application/json"}})
			uaCheckMalformed(t, res, path)
		})
	}
	for _, id := range []string{"abc", "0", "-1", "1.5", "99999999999999999999"} {
		t.Run("bad id "+id, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodPut, Path: "/users/" + id, Body: map[string]string{"name": "X"}, Token: ada.Token})
			uaCheckValidation(t, res, "/users/"+id, "id")
		})
	}
	after := api.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: ada.Token})
	uaSameJSON(t, "user after invalid PUTs", after.Body, before.Body)
}

func TestUsersDelete(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	bob := api.SignUp("bob@example.com", "Bob", "password")
	admin := api.SignUpAdmin("root@example.com", "Root", "password")
	newItem := func(token, name string) int64 {
		t.Helper()
		res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/items", Token: token,
			Body: map[string]any{"name": name, "price_cents": 100}})
		if res.Status != http.StatusCreated {
			t.Fatalf("POST /items = %d %s", res.Status, res.Body)
		}
		var it struct {
			ID int64 `json:"id"`
		}
		res.JSON(t, &it)
		return it.ID
	}
	adaItems := []int64{newItem(ada.Token, "Teapot"), newItem(ada.Token, "Cup")}
	bobItem := newItem(bob.Token, "Kettle")

	res := api.Do(apitest.Request{Method: http.MethodDelete, Path: uaUserPath(ada.ID), Token: ada.Token})
	if res.Status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s, want 204", res.Status, res.Body)
	}
	if len(res.Body) != 0 {
		t.Errorf("204 has a body: %q", res.Body)
	}

	var users, items int
	if err := api.DB.Get(&users, `SELECT count(*) FROM users WHERE id = $1`, ada.ID); err != nil {
		t.Fatal(err)
	}
	if err := api.DB.Get(&items, `SELECT count(*) FROM items WHERE owner_id = $1`, ada.ID); err != nil {
		t.Fatal(err)
	}
	if users != 0 || items != 0 {
		t.Errorf("after delete: %d user rows and %d item rows remain", users, items)
	}
	for _, id := range adaItems {
		p := "/items/" + strconv.FormatInt(id, 10)
		requireProblem(t, api.Do(apitest.Request{Method: http.MethodGet, Path: p}), http.StatusNotFound, p)
	}
	// Someone else's things are untouched.
	if r := api.Do(apitest.Request{Method: http.MethodGet, Path: "/items/" + strconv.FormatInt(bobItem, 10)}); r.Status != http.StatusOK {
		t.Errorf("bob's item: %d %s", r.Status, r.Body)
	}
	if r := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: bob.Token}); r.Status != http.StatusOK {
		t.Errorf("bob: %d %s", r.Status, r.Body)
	}
	p := uaUserPath(ada.ID)
	requireProblem(t, api.Do(apitest.Request{Method: http.MethodGet, Path: p, Token: bob.Token}), http.StatusForbidden, p)
	requireProblem(t, api.Do(apitest.Request{Method: http.MethodGet, Path: p, Token: admin.Token}), http.StatusNotFound, p)

	// The deleted user's token is refused everywhere.
	bobItemPath := "/items/" + strconv.FormatInt(bobItem, 10)
	for _, r := range []apitest.Request{
		{Method: http.MethodGet, Path: "/users"},
		{Method: http.MethodGet, Path: "/users/me"},
		{Method: http.MethodGet, Path: uaUserPath(bob.ID)},
		{Method: http.MethodGet, Path: uaUserPath(ada.ID)},
		{Method: http.MethodPut, Path: uaUserPath(ada.ID), Body: map[string]string{"name": "Ghost"}},
		{Method: http.MethodPatch, Path: uaUserPath(ada.ID), Body: map[string]string{"name": "Ghost"}},
		{Method: http.MethodDelete, Path: uaUserPath(ada.ID)},
		{Method: http.MethodPut, Path: "/users/me/password", Body: map[string]string{"current_password": "password", "new_password": "password2"}},
		{Method: http.MethodPost, Path: "/auth/logout", Body: map[string]string{"refresh_token": ada.Refresh}},
		{Method: http.MethodPost, Path: "/items", Body: map[string]any{"name": "Ghost item", "price_cents": 1}},
		{Method: http.MethodPut, Path: bobItemPath, Body: map[string]any{"name": "Stolen"}},
		{Method: http.MethodPatch, Path: bobItemPath, Body: map[string]any{"name": "Stolen"}},
		{Method: http.MethodDelete, Path: bobItemPath},
	} {
		t.Run("deleted token "+r.Method+" "+r.Path, func(t *testing.T) {
			r.Token = ada.Token
			uaCheckUnauthorized(t, api.Do(r), r.Path)
		})
	}
	if err := api.DB.Get(&users, `SELECT count(*) FROM users WHERE id = $1`, ada.ID); err != nil || users != 0 {
		t.Errorf("deleted user came back: %d (%v)", users, err)
	}
	// Their session ended with them: the refresh token is refused too.
	res = api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/refresh", Body: map[string]string{"refresh_token": ada.Refresh}})
	requireProblem(t, res, http.StatusUnauthorized, "/auth/refresh")

	// Logging in as the deleted user fails like any unknown email, and the
	// email can be signed up again as a new user.
	login := api.Do(apitest.Request{Method: http.MethodPost, Path: "/auth/login", Body: map[string]string{"email": "ada@example.com", "password": "password"}})
	requireProblem(t, login, http.StatusUnauthorized, "/auth/login")
	again := api.SignUp("ada@example.com", "Ada Again", "password")
	if again.ID == ada.ID {
		t.Errorf("re-signed-up user reuses id %d", ada.ID)
	}
	if r := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: ada.Token}); r.Status != http.StatusUnauthorized {
		t.Errorf("old token after the email was signed up again: %d, want 401", r.Status)
	}
}

func TestUsersDeleteForbidden(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ada := api.SignUp("ada@example.com", "Ada", "password")
	bob := api.SignUp("bob@example.com", "Bob", "password")
	for _, id := range []int64{bob.ID, 999999} {
		path := uaUserPath(id)
		t.Run(path, func(t *testing.T) {
			requireProblem(t, api.Do(apitest.Request{Method: http.MethodDelete, Path: path, Token: ada.Token}), http.StatusForbidden, path)
		})
	}
	for _, id := range []string{"abc", "0", "-1", "1.5", "99999999999999999999"} {
		t.Run("bad id "+id, func(t *testing.T) {
			res := api.Do(apitest.Request{Method: http.MethodDelete, Path: "/users/" + id, Token: ada.Token})
			uaCheckValidation(t, res, "/users/"+id, "id")
		})
	}
	var n int
	if err := api.DB.Get(&n, `SELECT count(*) FROM users`); err != nil || n != 2 {
		t.Errorf("%d users left (%v), want 2", n, err)
	}
	if r := api.Do(apitest.Request{Method: http.MethodGet, Path: "/users/me", Token: bob.Token}); r.Status != http.StatusOK {
		t.Errorf("bob after forbidden delete: %d %s", r.Status, r.Body)
	}
}

// Racing sign-ups for one email, however spelled: exactly one wins, the
// others get 409, never a 500.
func TestUsersCreateConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	spellings := []string{"race@example.com", "RACE@example.com", "Race@Example.com", " race@example.com", "race@EXAMPLE.com", "rAcE@example.com"}
	statuses := make([]int, len(spellings))
	var wg sync.WaitGroup
	for i, email := range spellings {
		wg.Go(func() {
			res := api.Do(apitest.Request{Method: http.MethodPost, Path: "/users", Body: uaSignUpBody(email, "Racer", "password")})
			statuses[i] = res.Status
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != len(spellings)-1 {
		t.Errorf("statuses %v, want one 201 and %d 409", counts, len(spellings)-1)
	}
}
