package faults_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"

	"github.com/example/apitemplate/internal/apitest"
)

// result is one racing request's outcome.
type result struct {
	status int
	body   []byte
	err    error
}

// race fires n requests at once, each released by the same signal so they
// really overlap, and returns their outcomes in order.
func race(n int, do func(i int) (int, []byte, error)) []result {
	return atOnce(n, func(i int) result {
		status, body, err := do(i)
		return result{status, body, err}
	})
}

// tally counts statuses and fails on transport errors and on any 5xx.
func tally(t *testing.T, what string, rs []result) map[int]int {
	t.Helper()
	counts := map[int]int{}
	for _, r := range rs {
		if r.err != nil {
			t.Errorf("%s: %v", what, r.err)
			continue
		}
		if r.status >= 500 {
			t.Errorf("%s: %d %s", what, r.status, r.body)
		}
		counts[r.status]++
	}
	codes := make([]int, 0, len(counts))
	for c := range counts {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	msg := ""
	for _, c := range codes {
		msg += fmt.Sprintf(" %d×%d", counts[c], c)
	}
	t.Logf("%s:%s", what, msg)
	return counts
}

// The real application, over real HTTP, with requests that race for one row.
// Each race must resolve to exactly what one-at-a-time requests would give.
func TestRaces(t *testing.T) {
	api := apitest.New(t)
	srv := httptest.NewServer(api.Engine)
	t.Cleanup(srv.Close)
	base := srv.URL

	t.Run("50 sign-ups with one email", func(t *testing.T) {
		rs := race(50, func(int) (int, []byte, error) {
			s, _, b, err := call(http.MethodPost, base+"/users", "",
				map[string]string{"email": "same@example.com", "name": "Same", "password": "password123"})
			return s, b, err
		})
		counts := tally(t, "POST /users ×50, one email", rs)
		if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != 49 {
			t.Errorf("want 1×201 and 49×409, got %v", counts)
		}
		var n int
		if err := api.DB.Get(&n, `SELECT count(*) FROM users WHERE email = 'same@example.com'`); err != nil {
			t.Fatalf("count users: %v", err)
		}
		if n != 1 {
			t.Errorf("%d users with the email, want 1", n)
		}
	})

	token := signUp(t, base, "owner@example.com")

	t.Run("50 PUTs to one item", func(t *testing.T) {
		id := createItem(t, base, token, map[string]any{"name": "start", "description": "start", "price_cents": 0})
		type item struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			PriceCents  int64  `json:"price_cents"`
		}
		bodies := make([]item, 50)
		for i := range bodies {
			bodies[i] = item{Name: fmt.Sprintf("name %d", i), Description: fmt.Sprintf("description %d", i), PriceCents: int64(1000 + i)}
		}
		url := fmt.Sprintf("%s/items/%d", base, id)
		rs := race(50, func(i int) (int, []byte, error) {
			s, _, b, err := call(http.MethodPut, url, token, bodies[i])
			return s, b, err
		})
		counts := tally(t, "PUT /items/{id} ×50, distinct bodies", rs)
		if counts[http.StatusOK] != 50 {
			t.Errorf("want 50×200, got %v", counts)
		}
		var got item
		if err := json.Unmarshal(mustCall(t, http.StatusOK, http.MethodGet, url, "", nil), &got); err != nil {
			t.Fatalf("decode item: %v", err)
		}
		matched := -1
		for i, b := range bodies {
			if b == got {
				matched = i
			}
		}
		if matched < 0 {
			t.Errorf("item ended as %+v, which no request sent: the updates were mixed", got)
		} else {
			t.Logf("the item ended equal to body %d of 50", matched)
		}
	})

	t.Run("20 DELETEs of one item by its owner", func(t *testing.T) {
		id := createItem(t, base, token, map[string]any{"name": "doomed", "price_cents": 1})
		url := fmt.Sprintf("%s/items/%d", base, id)
		rs := race(20, func(int) (int, []byte, error) {
			s, _, b, err := call(http.MethodDelete, url, token, nil)
			return s, b, err
		})
		counts := tally(t, "DELETE /items/{id} ×20", rs)
		if counts[http.StatusNoContent] != 1 || counts[http.StatusNotFound] != 19 {
			t.Errorf("want 1×204 and 19×404, got %v", counts)
		}
		mustCall(t, http.StatusNotFound, http.MethodGet, url, "", nil)
	})
}
