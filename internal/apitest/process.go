package apitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RunWithBinary builds the Go package at pkg (a path as `go build` takes it)
// once, runs the tests of the calling package with its path, and removes it.
// It is meant to be the whole body of a TestMain whose tests start the real
// server as a process.
func RunWithBinary(m *testing.M, pkg string, run func(bin string)) {
	dir, err := os.MkdirTemp("", "apitemplate-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "server")
	build := exec.CommandContext(context.Background(), "go", "build", "-o", bin, pkg) //nolint:gosec // the package path comes from the test itself
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "go build %s: %v\n", pkg, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	run(bin)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// Process is a child process a test started. Its output is kept for the
// test to read, and shown when the test fails; it is stopped when the test
// that owns it ends, whatever happened.
type Process struct {
	Name   string
	Cmd    *exec.Cmd
	Stdout *LockedBuffer
	Stderr *LockedBuffer
	done   chan struct{} // closed once Wait has returned and the output is whole
}

// Start runs cmd and registers its end on owner, the test the process must
// outlive (t itself, or a parent of t). The end sends stop first; a process
// that ignores it for 5s is killed with its whole process group. Should
// the test binary die without its cleanups (a -timeout panic), the process
// goes with it.
func Start(t, owner testing.TB, name string, cmd *exec.Cmd, stop syscall.Signal) *Process {
	t.Helper()
	cmd.SysProcAttr = ownProcessGroup()
	p := &Process{Name: name, Cmd: cmd, Stdout: &LockedBuffer{}, Stderr: &LockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	owner.Cleanup(func() {
		if !p.Exited() {
			_ = cmd.Process.Signal(stop)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				_ = killGroup(cmd.Process.Pid)
				select {
				case <-p.done:
				case <-time.After(5 * time.Second):
					owner.Errorf("%s (pid %d) did not die after SIGKILL", name, cmd.Process.Pid)
				}
			}
		}
		if owner.Failed() {
			owner.Logf("%s stdout (tail):\n%s\n%s stderr (tail):\n%s", name, tail(p.Stdout.String()), name, tail(p.Stderr.String()))
		}
	})
	return p
}

// StartServer runs the server binary bin with args, in the working
// directory dir (a fresh empty one when ""), so that a developer's .env
// cannot change what is tested, and with exactly env plus PATH and HOME.
// The test's end kills it.
func StartServer(t testing.TB, bin, dir string, env map[string]string, args ...string) *Process {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	// Not CommandContext: the process is ended by Start's cleanup, politely
	// first, rather than killed when a context ends.
	cmd := exec.Command(bin, args...) //nolint:gosec,noctx // the binary the test built
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return Start(t, t, "server", cmd, syscall.SIGKILL)
}

// Done is closed once the process has ended and its output is whole.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits at most d for the process to end and returns its exit code,
// failing t if it is still running then.
func (p *Process) Wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("%s still running %v later", p.Name, d)
		return 0
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("send %v to %s: %v", sig, p.Name, err)
	}
}

// LogLines decodes stdout, one JSON object a line, failing on anything else.
func (p *Process) LogLines(t testing.TB) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.Stdout.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s stdout line is not a JSON log record (%v): %s", p.Name, err, sc.Text())
		}
		lines = append(lines, m)
	}
	return lines
}

// Logged returns the log records whose msg is msg.
func (p *Process) Logged(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var found []map[string]any
	for _, l := range p.LogLines(t) {
		if l["msg"] == msg {
			found = append(found, l)
		}
	}
	return found
}

// WaitLog waits until a record with msg has been logged, failing if the
// process ends first or d passes.
func (p *Process) WaitLog(t testing.TB, msg string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		// Read "done" before the output: once it is closed the output is whole.
		exited := p.Exited()
		if strings.Contains(p.Stdout.String(), `"msg":"`+msg+`"`) {
			return
		}
		if exited {
			t.Fatalf("%s exited with code %d before logging %q; stderr: %s", p.Name, p.Cmd.ProcessState.ExitCode(), msg, p.Stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %v", p.Name, msg, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitReady waits for the server's "server ready" line.
func (p *Process) WaitReady(t testing.TB, d time.Duration) {
	t.Helper()
	p.WaitLog(t, "server ready", d)
}

// tail keeps the end of a process's output: request logs can be long.
func tail(s string) string {
	const keep = 4000
	if len(s) > keep {
		return "..." + s[len(s)-keep:]
	}
	return s
}

// LockedBuffer collects a child process's output while the test reads it:
// exec's copying goroutine writes as the test polls.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Call sends one request to a server running as a process, with body (if
// not nil) as JSON and token (if not empty) as a bearer token, and returns
// the status, the headers and the body. It reports errors instead of
// failing a test, so any goroutine may call it.
func Call(client *http.Client, method, url, token string, body any) (int, http.Header, []byte, error) {
	return CallWith(client, method, url, token, nil, body)
}

// CallWith is Call with header added to the request.
func CallWith(client *http.Client, method, url, token string, header http.Header, body any) (int, http.Header, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("encode: %w", err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, r)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("new request: %w", err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read %s %s: %w", method, url, err)
	}
	return res.StatusCode, res.Header, b, nil
}

// FreeAddr returns a 127.0.0.1 address with a port nothing listens on now,
// for a process the test is about to start.
func FreeAddr(t testing.TB) string {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return addr
}
