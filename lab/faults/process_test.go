// Package faults_test puts the application under conditions a normal test
// run avoids: requests racing for one row, a database that goes away, a
// SIGTERM under load, clients that are slow, greedy or never read, login
// timing, and a browser's view of the response headers. Most of it needs
// the real binary on a real socket, because read deadlines, header limits
// and connections that back up only exist there. The tests carry the build
// tag "faults" so that `make test` stays fast; `make test-faults` runs them.
package faults_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/apitest"
)

// serverBin is the binary under test, built once by TestMain.
var serverBin string

func TestMain(m *testing.M) {
	apitest.RunWithBinary(m, "github.com/example/apitemplate/cmd/server", func(bin string) { serverBin = bin })
}

const testSecret = "faults-test-secret-0123456789abcdef!!"

type proc struct {
	cmd    *exec.Cmd
	stdout *apitest.LockedBuffer
	stderr *apitest.LockedBuffer
	done   chan struct{}
}

// run starts the binary with exactly env (plus PATH and HOME) and kills it
// when the test ends, whatever happened.
func run(t *testing.T, env map[string]string) *proc {
	t.Helper()
	cmd := exec.Command(serverBin)
	// An empty directory, so a developer's .env cannot change what is tested.
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// Should the test binary die without its cleanups (a -timeout panic),
	// the server dies with it rather than living on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &proc{cmd: cmd, stdout: &apitest.LockedBuffer{}, stderr: &apitest.LockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				t.Errorf("server process %d did not die after SIGKILL", cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("server stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// startServer runs the server on a fresh port against dbURL, with extra
// settings, and waits until it says it is ready. It returns the process and
// its address.
func startServer(t *testing.T, dbURL string, extra map[string]string) (*proc, string) {
	t.Helper()
	addr := apitest.FreeAddr(t)
	env := map[string]string{
		"DATABASE_URL": dbURL,
		"HTTP_ADDR":    addr,
		"JWT_SECRET":   testSecret,
		"BCRYPT_COST":  "4",
	}
	for k, v := range extra {
		env[k] = v
	}
	p := run(t, env)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stdout.String(), `"msg":"server ready"`) {
		select {
		case <-p.done:
			t.Fatalf("server exited before it was ready: %s", p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("server not ready within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p, addr
}

var client = &http.Client{Timeout: 10 * time.Second}

// call is apitest.Call with this package's client.
func call(method, url, token string, body any) (int, http.Header, []byte, error) {
	return apitest.Call(client, method, url, token, body)
}

// mustCall is call from the test's own goroutine, failing on anything but want.
func mustCall(t *testing.T, want int, method, url, token string, body any) []byte {
	t.Helper()
	status, _, b, err := call(method, url, token, body)
	if err != nil {
		t.Fatal(err)
	}
	if status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, url, status, b, want)
	}
	return b
}

// signUp creates a user and returns an access token of theirs.
func signUp(t *testing.T, base, email string) string {
	t.Helper()
	mustCall(t, http.StatusCreated, http.MethodPost, base+"/users", "",
		map[string]string{"email": email, "name": "Faults", "password": "password123"})
	b := mustCall(t, http.StatusOK, http.MethodPost, base+"/auth/login", "",
		map[string]string{"email": email, "password": "password123"})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil {
		t.Fatalf("login response: %v", err)
	}
	return tok.AccessToken
}

// createItem creates an item and returns its id.
func createItem(t *testing.T, base, token string, body map[string]any) int64 {
	t.Helper()
	b := mustCall(t, http.StatusCreated, http.MethodPost, base+"/items", token, body)
	var it struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(b, &it); err != nil {
		t.Fatalf("item response: %v", err)
	}
	return it.ID
}
