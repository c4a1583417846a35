package faults_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/apitest"
)

// TestLoginTimingDoesNotRevealAccounts measures failed logins for an unknown
// email and for a known email with a wrong password, interleaved so that any
// drift in the machine's load hits both alike. If unknown emails skipped the
// bcrypt comparison they would answer several times faster, and an attacker
// could list the accounts by timing alone.
func TestLoginTimingDoesNotRevealAccounts(t *testing.T) {
	const (
		attempts  = 200
		tolerance = 0.25
	)
	_, addr := startServer(t, apitest.NewDatabase(t), map[string]string{
		"BCRYPT_COST": "10",
		// Every attempt here fails on purpose; throttling is tested elsewhere
		// (controllers/auth_test.go) and would only add 429s.
		"LOGIN_MAX_FAILURES_PER_EMAIL":  "100000",
		"LOGIN_MAX_FAILURES_PER_CLIENT": "100000",
	})
	base := "http://" + addr
	signUp(t, base, "known@example.com")

	measure := func(email string) time.Duration {
		t.Helper()
		start := time.Now()
		status, _, body, err := call(http.MethodPost, base+"/auth/login", "",
			map[string]string{"email": email, "password": "wrong-password"})
		elapsed := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusUnauthorized {
			t.Fatalf("login %s = %d %s, want 401", email, status, body)
		}
		return elapsed
	}
	// Warm up both paths (the dummy hash is made on first use, the pool
	// opens connections) before anything is counted.
	measure("known@example.com")
	measure("nobody@example.com")

	unknown := make([]time.Duration, 0, attempts)
	wrong := make([]time.Duration, 0, attempts)
	for i := range attempts {
		unknown = append(unknown, measure(fmt.Sprintf("nobody%d@example.com", i)))
		wrong = append(wrong, measure("known@example.com"))
	}
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	mu, mw := median(unknown), median(wrong)
	ratio := float64(mu) / float64(mw)
	t.Logf("login over %d attempts each (BCRYPT_COST 10): median unknown email %v, wrong password %v, ratio %.3f",
		attempts, mu.Round(10*time.Microsecond), mw.Round(10*time.Microsecond), ratio)
	if ratio < 1-tolerance || ratio > 1+tolerance {
		t.Errorf("unknown email and wrong password medians differ by more than %.0f%%: %v vs %v", tolerance*100, mu, mw)
	}
}
