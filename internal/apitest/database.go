package apitest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EmptyDatabase creates a database with no tables at all, unlike
// NewDatabase, and drops it when the test ends.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	server, err := pgx.ParseConfig(ServerURL())
	if err != nil {
		t.Fatalf("server URL: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "servertest_" + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()

	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }() // a test connection: nothing to report it to
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			t.Errorf("connect to drop %s: %v", name, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }() // a test connection: nothing to report it to
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})

	u := url.URL{
		Scheme:   "postgres",
		Host:     net.JoinHostPort(server.Host, strconv.Itoa(int(server.Port))),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	if server.Password != "" {
		u.User = url.UserPassword(server.User, server.Password)
	} else {
		u.User = url.User(server.User)
	}
	return u.String()
}
