package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/apitest"
)

// TestDeployUnderLoad is a rolling deploy: SIGTERM arrives while well over
// 100 requests are in flight. Every request the server has read must get its
// normal answer, new connections must be refused at once, and the process
// must exit 0 within SHUTDOWN_TIMEOUT. Logins make the load because bcrypt
// keeps each one busy long enough to pile them up in the queue for a
// password-hashing worker.
func TestDeployUnderLoad(t *testing.T) {
	const (
		// The drain is this many bcrypt hashes at cost 9 on the default
		// hashing workers: about 6s on this machine alone, and more when
		// another job shares its two CPUs. It must stay well inside the
		// server's 30s write timeout, past which an answer is cut off
		// whatever SHUTDOWN_TIMEOUT says.
		requests        = 150
		shutdownTimeout = 30 * time.Second
	)
	p, addr := startServer(t, apitest.NewDatabase(t), map[string]string{
		"BCRYPT_COST":      "9",
		"SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
		// A login in progress counts as a failure until it succeeds, so 150
		// at once would otherwise be throttled.
		"LOGIN_MAX_FAILURES_PER_EMAIL":  "1000",
		"LOGIN_MAX_FAILURES_PER_CLIENT": "1000",
		// The last logins queue for a hashing worker for seconds: they are
		// to be drained, not refused as busy, and answered before the write
		// timeout.
		"HASH_QUEUE_TIMEOUT": "25s",
	})
	base := "http://" + addr
	signUp(t, base, "deploy@example.com")

	// One connection per request, so each is a separate accepted connection
	// that shutdown has to wait for.
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	loadClient := &http.Client{Transport: tr, Timeout: shutdownTimeout + 10*time.Second}
	body := []byte(`{"email":"deploy@example.com","password":"password123"}`)

	var (
		written, completed, failed atomic.Int64
		wg                         sync.WaitGroup
		mu                         sync.Mutex
		failures                   []string
	)
	for range requests {
		wg.Go(func() {
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { written.Add(1) }}
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/auth/login", bytes.NewReader(body))
			var res *http.Response
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
				res, err = loadClient.Do(req)
			}
			if err == nil {
				_, err = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if err == nil && res.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
			}
			if err != nil {
				failed.Add(1)
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				return
			}
			completed.Add(1)
		})
	}

	// Wait until every request is on the wire, and then until the server
	// has read each one: a written request may still sit in the listen
	// queue of a busy machine, and closing the listener resets those. Only
	// a request in the server's hands is owed an answer.
	deadline := time.Now().Add(10 * time.Second)
	for written.Load() < requests && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var inFlight int64
	for {
		inFlight = int64(metric(t, client, base, "http_requests_in_flight"))
		if inFlight+completed.Load()+failed.Load() >= requests || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	signalled := time.Now()
	p.Signal(t, syscall.SIGTERM)
	if inFlight < 100 {
		t.Errorf("only %d requests were in the server's hands at SIGTERM, want at least 100", inFlight)
	}

	// The listener closes as shutdown starts: a new connection is refused
	// while the old ones are still being answered.
	refusedAfter := time.Duration(-1)
	for time.Since(signalled) < 2*time.Second {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			refusedAfter = time.Since(signalled)
			break
		}
		_ = conn.Close()
		time.Sleep(5 * time.Millisecond)
	}
	stillAnswering := requests - completed.Load() - failed.Load()
	if refusedAfter < 0 {
		t.Error("new connections were still accepted 2s after SIGTERM")
	}

	select {
	case <-p.Done():
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatalf("the server did not exit within SHUTDOWN_TIMEOUT (%v) + 5s", shutdownTimeout)
	}
	exitedAfter := time.Since(signalled)
	waitDone := make(chan struct{})
	go func() { wg.Wait(); close(waitDone) }()
	select {
	case <-waitDone:
	case <-time.After(10 * time.Second):
		t.Fatal("clients still waiting 10s after the server exited")
	}

	t.Logf("SIGTERM with %d of %d requests in the server's hands; new connections refused %v after it, with %d still being answered; "+
		"process exited %v after it with code %d; completed %d, failed %d",
		inFlight, requests, refusedAfter.Round(time.Millisecond), stillAnswering,
		exitedAfter.Round(time.Millisecond), p.Cmd.ProcessState.ExitCode(), completed.Load(), failed.Load())
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if exitedAfter > shutdownTimeout {
		t.Errorf("exited %v after SIGTERM, longer than SHUTDOWN_TIMEOUT %v", exitedAfter, shutdownTimeout)
	}
	if failed.Load() > 0 {
		t.Errorf("%d accepted requests failed, e.g. %s", failed.Load(), failures[0])
	}
	if stillAnswering == 0 {
		t.Error("every request had finished before the listener closed: the test proved nothing about draining")
	}
}
