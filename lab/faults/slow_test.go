package faults_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/example/apitemplate/internal/apitest"
)

// readStatus reads one response from conn within d and returns its status.
func readStatus(conn net.Conn, d time.Duration) (int, error) {
	if err := conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return 0, fmt.Errorf("set deadline: %w", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, fmt.Errorf("read response: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestSlowAndOversizedClients(t *testing.T) {
	dbURL := apitest.NewDatabase(t)
	p, addr := startServer(t, dbURL, map[string]string{
		"HTTP_READ_HEADER_TIMEOUT": "1s",
		// Few connections, so that any the stalled clients below kept would
		// leave none for anyone else.
		"DB_MAX_OPEN_CONNS": "4",
		"DB_MAX_IDLE_CONNS": "4",
	})
	base := "http://" + addr

	t.Run("slowloris headers are cut off by HTTP_READ_HEADER_TIMEOUT", func(t *testing.T) {
		conn := dial(t, addr)
		request := "GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: " + strings.Repeat("a", 30) + "\r\n\r\n"
		start := time.Now()
		closed := make(chan time.Duration, 1)
		go func() {
			// The server sends nothing or a 408 and closes: either way the
			// read ends, well before the whole request could have arrived.
			_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			_, _ = io.Copy(io.Discard, conn)
			closed <- time.Since(start)
		}()
		sent := 0
	trickle:
		for sent < len(request) {
			if _, err := conn.Write([]byte{request[sent]}); err != nil {
				break
			}
			sent++
			select {
			case <-closed:
				closed <- time.Since(start)
				break trickle
			case <-time.After(time.Second):
			}
		}
		elapsed := <-closed
		t.Logf("slowloris: connection closed after %v, %d of %d header bytes sent", elapsed.Round(10*time.Millisecond), sent, len(request))
		if sent >= len(request) || elapsed > 4*time.Second {
			t.Errorf("slowloris client kept its connection %v and sent %d/%d bytes; want it cut after about 1s", elapsed, sent, len(request))
		}
	})

	t.Run("a 2 MiB body is refused with 413 before it is sent", func(t *testing.T) {
		conn := dial(t, addr)
		head := "POST /users HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: " +
			fmt.Sprint(2<<20) + "\r\n\r\n"
		chunk := strings.Repeat(" ", 64<<10)
		if err := conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, head+chunk); err != nil {
			t.Fatalf("send headers and 64 KiB: %v", err)
		}
		start := time.Now()
		status, err := readStatus(conn, 5*time.Second)
		if err != nil {
			t.Fatalf("no answer after 64 KiB of a 2 MiB body: %v", err)
		}
		t.Logf("2 MiB body: %d after 64 KiB sent, in %v", status, time.Since(start).Round(time.Millisecond))
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", status)
		}
	})

	t.Run("headers over MaxHeaderBytes get 431", func(t *testing.T) {
		conn := dial(t, addr)
		// 64 KiB is MaxHeaderBytes; net/http allows 4 KiB of slack above it.
		big := strings.Repeat("b", 80<<10)
		req := "GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\nX-Big: " + big + "\r\n\r\n"
		if err := conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		// The server may answer and close before reading it all.
		_, _ = io.WriteString(conn, req)
		status, err := readStatus(conn, 5*time.Second)
		if err != nil {
			t.Fatalf("no answer to 80 KiB of headers: %v", err)
		}
		t.Logf("80 KiB of headers: %d", status)
		if status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", status)
		}
	})

	t.Run("clients that never read hold no database connection", func(t *testing.T) {
		token := signUp(t, base, "stall@example.com")
		desc := strings.Repeat("d", 1000)
		for i := range 100 {
			createItem(t, base, token, map[string]any{"name": fmt.Sprintf("item %d", i), "description": desc, "price_cents": i})
		}
		// Each connection pipelines pages of ~100 KB and reads none of them:
		// the server's writes back up once the socket buffers fill.
		const stalled, perConn = 12, 400
		req := "GET /items?limit=100 HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
		var wg sync.WaitGroup
		for range stalled {
			conn := dial(t, addr)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = conn.SetWriteDeadline(time.Now().Add(4 * time.Second))
				for range perConn {
					if _, err := io.WriteString(conn, req); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(2 * time.Second)

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		db, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatalf("connect to the test database: %v", err)
		}
		defer db.Close(ctx)
		worst := 0
		for range 10 {
			var busy int
			var states string
			err := db.QueryRow(ctx, `SELECT count(*), coalesce(string_agg(state || ': ' || left(query, 60), '; '), '')
				FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid()
				  AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')`).Scan(&busy, &states)
			if err != nil {
				t.Fatalf("pg_stat_activity: %v", err)
			}
			if busy > worst {
				worst = busy
			}
			if busy > 0 {
				t.Logf("busy sessions: %s", states)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// With every stalled connection backed up, others are still served:
		// a stalled writer holding a pool connection would starve them.
		start := time.Now()
		for range 8 {
			status, _, body, err := call(http.MethodGet, base+"/items?limit=100", "", nil)
			if err != nil || status != http.StatusOK {
				t.Fatalf("GET /items while %d clients stall: %d %v %.100s", stalled, status, err, body)
			}
		}
		fresh := time.Since(start)
		wg.Wait()
		// The access log line is written once a response has been handed to
		// the connection, so its count shows how far the server got.
		answered := strings.Count(p.Stdout.String(), `"route":"/items","status":200`)
		t.Logf("stalled readers: %d connections × %d pipelined pages, %d answered (the rest wait on full sockets); sessions active or in a transaction: at most %d in 10 samples; 8 fresh requests served in %v",
			stalled, perConn, answered, worst, fresh.Round(time.Millisecond))
		if worst > 0 {
			t.Errorf("%d database sessions were busy while clients stalled, want 0", worst)
		}
		if answered >= stalled*perConn {
			t.Errorf("every pipelined request was answered: the server's writes never backed up, so nothing was tested")
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Error("the checks ran out of time")
		}
	})
}
