package apitest

import (
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
	"sync"
	"testing"
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
