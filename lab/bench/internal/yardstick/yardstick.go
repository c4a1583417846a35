// Package yardstick is the two servers `make bench` measures the template
// against. Both have the same routes, SQL, JSON and auth rules as the
// template, written with nothing but net/http, pgxpool and golang-jwt: no
// framework, no DI, no sqlx. They differ only in what wraps every request:
//
//   - SameWork (bench/baseline) also does the per-request work the template
//     must do: a request id, the security headers and one access-log line,
//     so the difference between it and the template is what the template's
//     structure costs.
//   - Plain (bench/plain) does only the work of the route (routing, SQL,
//     auth, JSON): the physical limit of a Go server on this machine, so the
//     difference between it and the template is everything the template
//     adds, logging and ids included.
//
// They serve only the routes the benchmark drives: GET /, GET /readyz,
// GET /items, GET /items/{id}, POST /items and GET /users/me.
package yardstick

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Mode is what wraps every request.
type Mode int

const (
	// Plain wraps nothing: the route's work only.
	Plain Mode = iota
	// SameWork adds the template's per-request work: a request id, the
	// security headers and one JSON access-log line on stdout.
	SameWork
)

// The SQL is the template's (repositories/items.go, repositories/users.go),
// character for character, so both servers ask PostgreSQL for the same work.
const (
	itemColumns = `id, name, description, price_cents, owner_id, version, created_at, updated_at`

	insertItem = `
		INSERT INTO items (name, description, price_cents, owner_id)
		VALUES ($1, $2, $3, $4)
		RETURNING ` + itemColumns

	selectItem = `SELECT ` + itemColumns + ` FROM items WHERE id = $1`

	// The first page of the unfiltered list sorted by id, one row more than
	// the limit, and its total counted to 10000: the template's statements
	// for GET /items?limit=N (roundtrips_test.go at the top pins them).
	selectItemPage = `SELECT ` + itemColumns + ` FROM items ORDER BY id ASC LIMIT $1`
	countItems     = `SELECT count(*) FROM (SELECT 1 FROM items LIMIT 10001) AS capped`

	selectUser = `SELECT id, email, name, role, version, created_at, updated_at FROM users WHERE id = $1`

	selectIdentity = `SELECT role, token_generation FROM users WHERE id = $1`
)

const (
	requestIDHeader = "X-Request-ID"
	maxBodyBytes    = 1 << 20
	tokenLeeway     = 30 * time.Second
)

type item struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	PriceCents  int64     `json:"price_cents"`
	OwnerID     int64     `json:"owner_id"`
	version     int64     // in the ETag, not the body
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type user struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	version   int64     // in the ETag, not the body
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type page struct {
	Items      []item  `json:"items"`
	Limit      int     `json:"limit"`
	Offset     int     `json:"offset"`
	Total      int64   `json:"total"`
	TotalExact bool    `json:"total_exact"`
	NextCursor *string `json:"next_cursor"`
}

// etag is the template's: the id and the version.
func etag(id, version int64) string {
	return `"` + strconv.FormatInt(id, 10) + "-" + strconv.FormatInt(version, 10) + `"`
}

type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
}

type server struct {
	pool      *pgxpool.Pool
	cursorKey []byte
	logger    *slog.Logger
	secret    []byte
	issuer    string
	audience  string
}

// Main runs the server in mode m until SIGINT or SIGTERM, and exits the
// process when it fails. CPU_PROFILE names a file to write a CPU profile of
// the whole run to.
func Main(m Mode) {
	if err := run(m); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(m Mode) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	poolCfg, err := pgxpool.ParseConfig(env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/app?sslmode=disable"))
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	// The template's database/sql pool defaults to 20 connections; pgxpool's
	// default (the number of CPUs) would make the comparison about pool size.
	maxConns, err := strconv.Atoi(env("DB_MAX_OPEN_CONNS", "20"))
	if err != nil {
		return fmt.Errorf("DB_MAX_OPEN_CONNS: %w", err)
	}
	poolCfg.MaxConns = int32(min(max(maxConns, 1), 1000)) //nolint:gosec // clamped above
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return fmt.Errorf("open pool: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}

	s := &server{
		pool:     pool,
		logger:   slog.New(slog.NewJSONHandler(os.Stdout, nil)),
		secret:   []byte(os.Getenv("JWT_SECRET")),
		issuer:   env("JWT_ISSUER", "apitemplate"),
		audience: env("JWT_AUDIENCE", "apitemplate"),
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte("list cursors"))
	s.cursorKey = mac.Sum(nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.healthy)
	mux.HandleFunc("GET /readyz", s.ready)
	mux.HandleFunc("GET /items", s.listItems)
	mux.HandleFunc("GET /items/{id}", s.getItem)
	mux.HandleFunc("POST /items", s.createItem)
	mux.HandleFunc("GET /users/me", s.me)

	var handler http.Handler = mux
	if m == SameWork {
		handler = s.middleware(mux)
	}
	srv := &http.Server{
		Addr:              env("HTTP_ADDR", ":8081"),
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if path := os.Getenv("CPU_PROFILE"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path) //nolint:gosec // the path is the operator's own
	if err != nil {
		return nil, fmt.Errorf("CPU_PROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// middleware does what the template's outer middleware does on every
// request (SameWork only): request id, security headers, one log line.
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(requestIDHeader)
		if !saneRequestID(id) {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
			r.Header.Set(requestIDHeader, id)
		}
		h := w.Header()
		h.Set(requestIDHeader, id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("route", r.Pattern),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Instance: r.URL.Path,
	})
}

func (s *server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.logger.ErrorContext(r.Context(), "request failed", slog.String("path", r.URL.Path), slog.Any("error", err))
	s.fail(w, r, http.StatusInternalServerError, "internal server error")
}

func (s *server) healthy(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
}

func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the database is not reachable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func scanItem(row pgx.Row) (item, error) {
	var it item
	err := row.Scan(&it.ID, &it.Name, &it.Description, &it.PriceCents, &it.OwnerID, &it.version, &it.CreatedAt, &it.UpdatedAt)
	it.CreatedAt, it.UpdatedAt = it.CreatedAt.UTC(), it.UpdatedAt.UTC()
	return it, err
}

func (s *server) getItem(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.fail(w, r, http.StatusBadRequest, "path parameter id must be a positive integer")
		return
	}
	it, err := scanItem(s.pool.QueryRow(r.Context(), selectItem, id))
	if errors.Is(err, pgx.ErrNoRows) {
		s.fail(w, r, http.StatusNotFound, "the requested resource does not exist")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(it.ID, it.version))
	writeJSON(w, http.StatusOK, it)
}

// queryInt reads an optional integer parameter no smaller than least.
func queryInt(r *http.Request, name string, def, least, most int64) (int64, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= least && n <= most
}

func (s *server) listItems(w http.ResponseWriter, r *http.Request) {
	limit, okLimit := queryInt(r, "limit", 50, 1, 100)
	if !okLimit || len(r.URL.Query()) > 1 {
		s.fail(w, r, http.StatusBadRequest, "this yardstick serves only the first page of the whole list")
		return
	}
	rows, err := s.pool.Query(r.Context(), selectItemPage, limit+1)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	items := make([]item, 0, limit+1)
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			rows.Close()
			s.internal(w, r, err)
			return
		}
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		s.internal(w, r, err)
		return
	}
	var total int64
	if err := s.pool.QueryRow(r.Context(), countItems).Scan(&total); err != nil {
		s.internal(w, r, err)
		return
	}
	p := page{Items: items, Limit: int(limit), Total: min(total, 10000), TotalExact: total <= 10000}
	if len(items) > int(limit) {
		p.Items = items[:limit]
		next := s.cursor(p.Items[limit-1].ID)
		p.NextCursor = &next
	}
	writeJSON(w, http.StatusOK, p)
}

// cursor is the template's next_cursor for the list of items sorted by id
// with no filter: its payload, signed with a key derived from the JWT secret
// and bound to the list (controllers/pages.go).
func (s *server) cursor(lastID int64) string {
	payload, _ := json.Marshal(struct {
		Value string `json:"v"`
		ID    int64  `json:"i"`
	}{"", lastID})
	p := base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.cursorKey)
	mac.Write([]byte("/items\x00id\x00" + `{"OwnerID":null,"MinPriceCents":null,"MaxPriceCents":null,"NameContains":null}`))
	mac.Write([]byte{0})
	mac.Write([]byte(p))
	return p + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

// authenticate is the template's rule: a valid HS256 token (issuer,
// audience, expiry, leeway) whose user still exists.
func (s *server) authenticate(w http.ResponseWriter, r *http.Request) (int64, bool) {
	const prefix = "bearer "
	h := r.Header.Get("Authorization")
	var claims struct {
		jwt.RegisteredClaims
		Generation int64 `json:"gen"`
	}
	var id int64
	ok := len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix)
	if ok {
		_, err := jwt.ParseWithClaims(h[len(prefix):], &claims, func(*jwt.Token) (any, error) { return s.secret, nil },
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(s.issuer),
			jwt.WithAudience(s.audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(tokenLeeway),
		)
		id, _ = strconv.ParseInt(claims.Subject, 10, 64)
		ok = err == nil && id > 0
	}
	if ok {
		var role string
		var generation int64
		err := s.pool.QueryRow(r.Context(), selectIdentity, id).Scan(&role, &generation)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			ok = false
		case err != nil:
			s.internal(w, r, err)
			return 0, false
		default:
			ok = generation == claims.Generation
		}
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", "Bearer")
		s.fail(w, r, http.StatusUnauthorized, "a valid bearer token is required")
		return 0, false
	}
	return id, true
}

type createItemRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  *int64 `json:"price_cents"`
}

func (s *server) createItem(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.fail(w, r, http.StatusUnsupportedMediaType, "request body must be application/json")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	owner, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	var req createItemRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.fail(w, r, http.StatusBadRequest, "request body is not valid JSON")
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if n := utf8.RuneCountInString(req.Name); n < 1 || n > 100 || utf8.RuneCountInString(req.Description) > 1000 ||
		req.PriceCents == nil || *req.PriceCents < 0 || *req.PriceCents > 1_000_000_000_000 {
		s.fail(w, r, http.StatusBadRequest, "request body failed validation")
		return
	}
	it, err := scanItem(s.pool.QueryRow(r.Context(), insertItem, req.Name, req.Description, *req.PriceCents, owner))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Location", "/items/"+strconv.FormatInt(it.ID, 10))
	w.Header().Set("ETag", etag(it.ID, it.version))
	writeJSON(w, http.StatusCreated, it)
}

func (s *server) me(w http.ResponseWriter, r *http.Request) {
	id, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	var u user
	err := s.pool.QueryRow(r.Context(), selectUser, id).Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.version, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		s.fail(w, r, http.StatusNotFound, "the requested resource does not exist")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	w.Header().Set("ETag", etag(u.ID, u.version))
	writeJSON(w, http.StatusOK, u)
}
