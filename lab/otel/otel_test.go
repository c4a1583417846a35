// Package otel_test runs the real server binary against a real
// OpenTelemetry Collector (collector/, a module of its own: the OTLP
// receiver and the file exporter) and reads back, from what the collector
// wrote, the trace of one POST /items: the server span continuing the
// caller's traceparent, its SQL statements beneath it, no statement's
// arguments anywhere, and the access log line that leads to it.
package otel_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/apitest"
)

var (
	serverBin    string
	collectorBin string
	collectorErr error         // why the collector could not be built
	collectorDur time.Duration // how long its build took
)

// TestMain builds the server (as every lab suite does) and the collector,
// next to it in the directory RunWithBinary removes at the end.
func TestMain(m *testing.M) {
	apitest.RunWithBinary(m, "github.com/example/apitemplate/cmd/server", func(bin string) {
		serverBin = bin
		collectorBin = filepath.Join(filepath.Dir(bin), "collector")
		began := time.Now()
		build := exec.CommandContext(context.Background(), "go", "build", "-o", collectorBin, ".")
		build.Dir = "collector" // its own module: the lab's graph stays small
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			collectorErr = fmt.Errorf("go build in lab/otel/collector: %w", err)
		}
		collectorDur = time.Since(began)
		fmt.Fprintf(os.Stderr, "otel: collector built in %s\n", collectorDur.Round(10*time.Millisecond))
	})
}

const (
	jwtSecret   = "otel-lab-secret-0123456789abcdef-0123!"
	serviceName = "lab-otel"
	password    = "correct horse battery"
)

// collectorConfig receives OTLP over HTTP on addr and writes every batch
// of spans, as a line of OTLP JSON, to path.
const collectorConfig = `receivers:
  otlp:
    protocols:
      http:
        endpoint: %q
exporters:
  file:
    path: %q
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none # no listener on :8888 to clash with another run
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
`

func TestTraceOfPostItemsReachesACollector(t *testing.T) {
	if collectorErr != nil {
		t.Fatal(collectorErr)
	}
	t.Logf("collector: go build took %s (the first, cold, build takes minutes)", collectorDur.Round(10*time.Millisecond))
	dir := t.TempDir()
	spansFile := filepath.Join(dir, "spans.json")
	collector, otlpAddr := startCollector(t, dir, spansFile)

	traceID, parentID := randomHex(t, 16), randomHex(t, 8)
	traceparent := "00-" + traceID + "-" + parentID + "-01"
	itemName := "otel-lab-teapot-" + randomHex(t, 4) // an argument that must appear in no span

	addr := apitest.FreeAddr(t)
	server := apitest.StartServer(t, serverBin, "", map[string]string{
		"DATABASE_URL":                apitest.NewDatabase(t),
		"HTTP_ADDR":                   addr,
		"JWT_SECRET":                  jwtSecret,
		"BCRYPT_COST":                 "4",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + otlpAddr,
		"OTEL_SERVICE_NAME":           serviceName,
		"OTEL_TRACES_SAMPLER":         "always_on",
	})
	server.WaitReady(t, 20*time.Second)
	base := "http://" + addr

	client := &http.Client{Timeout: 10 * time.Second}
	email := "otel-" + randomHex(t, 4) + "@example.com"
	mustCall(t, client, http.StatusCreated, http.MethodPost, base+"/users", "", nil,
		map[string]string{"email": email, "name": "Otel", "password": password})
	var tokens struct {
		Access string `json:"access_token"`
	}
	if err := json.Unmarshal(mustCall(t, client, http.StatusOK, http.MethodPost, base+"/auth/login", "", nil,
		map[string]string{"email": email, "password": password}), &tokens); err != nil || tokens.Access == "" {
		t.Fatalf("login: no access token (%v)", err)
	}
	mustCall(t, client, http.StatusCreated, http.MethodPost, base+"/items", tokens.Access, map[string]string{"traceparent": traceparent},
		map[string]any{"name": itemName, "price_cents": 1999})

	// SIGTERM: the server's cleanup flushes the spans it still holds.
	server.Signal(t, syscall.SIGTERM)
	if code := server.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("server exited with %d after SIGTERM; stderr: %s", code, server.Stderr.String())
	}

	// The collector writes what it received every 100ms: wait for the
	// server span, then stop the collector, which flushes and closes the
	// file, so that the whole of what it received is read.
	deadline := time.Now().Add(20 * time.Second)
	for !hasServerSpan(t, spansFile, traceID) {
		if collector.Exited() {
			t.Fatalf("collector exited before writing the server span; stderr: %s", collector.Stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span of trace %s in %s within 20s after the server stopped", traceID, spansFile)
		}
		time.Sleep(50 * time.Millisecond)
	}
	collector.Signal(t, syscall.SIGTERM)
	if code := collector.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("collector exited with %d after SIGTERM", code)
	}
	spans := readSpans(t, spansFile)
	checkTrace(t, spans, traceID, parentID, itemName, tokens.Access)
	checkAccessLog(t, server, spans, traceID)
}

// startCollector writes the collector's config and runs it, waiting until
// its OTLP/HTTP receiver accepts connections.
func startCollector(t *testing.T, dir, spansFile string) (*apitest.Process, string) {
	t.Helper()
	otlpAddr := apitest.FreeAddr(t)
	cfg := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, collectorConfig, otlpAddr, spansFile), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(context.Background(), collectorBin, "--config", "file:"+cfg) //nolint:gosec // the binary TestMain built
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	collector := apitest.Start(t, t, "collector", cmd, syscall.SIGTERM)
	deadline := time.Now().Add(30 * time.Second)
	var d net.Dialer
	for {
		conn, err := d.DialContext(context.Background(), "tcp", otlpAddr)
		if err == nil {
			_ = conn.Close()
			break
		}
		if collector.Exited() {
			t.Fatalf("collector exited before listening on %s; stderr: %s", otlpAddr, collector.Stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not listening on %s within 30s; stderr: %s", otlpAddr, collector.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return collector, otlpAddr
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// mustCall sends body as JSON with the headers given and returns the
// answer's body, failing unless its status is want.
func mustCall(t *testing.T, client *http.Client, want int, method, url, token string, header map[string]string, body any) []byte {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var got bytes.Buffer
	if _, err := got.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, url, res.StatusCode, got.Bytes(), want)
	}
	return got.Bytes()
}

// What the file exporter writes: one ExportTraceServiceRequest a line, in
// OTLP JSON (ids in hex, kinds as numbers).
type (
	exportRequest struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []attribute `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Scope struct {
					Name string `json:"name"`
				} `json:"scope"`
				Spans []otlpSpan `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	otlpSpan struct {
		TraceID      string      `json:"traceId"`
		SpanID       string      `json:"spanId"`
		ParentSpanID string      `json:"parentSpanId"`
		Name         string      `json:"name"`
		Kind         int         `json:"kind"`
		Start        json.Number `json:"startTimeUnixNano"`
		End          json.Number `json:"endTimeUnixNano"`
		Attributes   []attribute `json:"attributes"`
	}
	attribute struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"` // {"stringValue": ...}, {"intValue": ...}, ...
	}
)

// OTLP span kinds.
const (
	kindServer = 2
	kindClient = 3
)

// span is an exported span with what the test needs of its batch.
type span struct {
	otlpSpan
	scope    string
	resource []attribute
}

func (a attribute) str() string {
	var v struct {
		S *string `json:"stringValue"`
	}
	if json.Unmarshal(a.Value, &v) == nil && v.S != nil {
		return *v.S
	}
	return string(a.Value)
}

func attr(attrs []attribute, key string) (string, bool) {
	for _, a := range attrs {
		if a.Key == key {
			return a.str(), true
		}
	}
	return "", false
}

func (s span) duration() time.Duration {
	start, err1 := s.Start.Int64()
	end, err2 := s.End.Int64()
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(end - start)
}

// readSpans decodes every line of the collector's file.
func readSpans(t *testing.T, path string) []span {
	t.Helper()
	spans, err := decodeSpans(path)
	if err != nil {
		t.Fatal(err)
	}
	return spans
}

func decodeSpans(path string) ([]span, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the test's own temp file
	if err != nil {
		return nil, fmt.Errorf("read collector output: %w", err)
	}
	var spans []span
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var req exportRequest
		if err := json.Unmarshal(line, &req); err != nil {
			return nil, fmt.Errorf("collector output line is not OTLP JSON (%w): %.200s", err, line)
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans = append(spans, span{otlpSpan: s, scope: ss.Scope.Name, resource: rs.Resource.Attributes})
				}
			}
		}
	}
	return spans, sc.Err()
}

// hasServerSpan reports whether the file holds, so far, a server span of
// the trace. A line being written may be partial: that is not yet.
func hasServerSpan(t *testing.T, path, traceID string) bool {
	t.Helper()
	spans, err := decodeSpans(path)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(spans, func(s span) bool { return s.TraceID == traceID && s.Kind == kindServer })
}

// checkTrace holds the spans to the trace a POST /items must make.
func checkTrace(t *testing.T, spans []span, traceID, parentID, itemName, token string) {
	t.Helper()
	names := map[string]int{}
	for _, s := range spans {
		names[s.Name]++
		if name, _ := attr(s.resource, "service.name"); name != serviceName {
			t.Errorf("span %q: resource service.name %q, want %q", s.Name, name, serviceName)
		}
		// No statement's arguments, nor any secret, in any span.
		for _, a := range s.Attributes {
			if strings.Contains(a.Key, "parameters") || strings.Contains(a.Key, "args") {
				t.Errorf("span %q carries attribute %s=%s", s.Name, a.Key, a.Value)
			}
			for what, v := range map[string]string{"the item's name (a statement argument)": itemName, "the password": password, "the access token": token} {
				if strings.Contains(a.str(), v) {
					t.Errorf("span %q attribute %s holds %s", s.Name, a.Key, what)
				}
			}
		}
	}
	t.Logf("collector received %d spans in all: %v", len(spans), names)

	var servers []span
	for _, s := range spans {
		if s.Kind == kindServer && s.Name == "POST /items" {
			servers = append(servers, s)
		}
	}
	if len(servers) != 1 {
		t.Fatalf("%d server spans named \"POST /items\", want 1", len(servers))
	}
	root := servers[0]
	if root.TraceID != traceID || root.ParentSpanID != parentID {
		t.Errorf("server span in trace %s with parent %s, want trace %s and parent %s (the traceparent's)", root.TraceID, root.ParentSpanID, traceID, parentID)
	}
	if route, _ := attr(root.Attributes, "http.route"); route != "/items" {
		t.Errorf("server span http.route %q, want /items", route)
	}

	// Every other span of the trace descends from the server span; the
	// statements are client spans with their text.
	var trace []span
	byID := map[string]span{}
	for _, s := range spans {
		if s.TraceID == traceID {
			trace = append(trace, s)
			byID[s.SpanID] = s
		}
	}
	descends := func(s span) bool {
		for p, ok := byID[s.ParentSpanID]; ok; p, ok = byID[p.ParentSpanID] {
			if p.SpanID == root.SpanID {
				return true
			}
		}
		return false
	}
	var statements []string
	for _, s := range trace {
		if s.SpanID == root.SpanID {
			continue
		}
		if !descends(s) {
			t.Errorf("span %q (parent %s) in the trace does not descend from the server span %s", s.Name, s.ParentSpanID, root.SpanID)
		}
		text, ok := attr(s.Attributes, "db.query.text")
		if ok && s.Kind != kindClient {
			t.Errorf("statement span %q has kind %d, want client (%d)", s.Name, s.Kind, kindClient)
		}
		if ok && s.ParentSpanID == root.SpanID {
			statements = append(statements, strings.Join(strings.Fields(text), " "))
		}
	}
	if !slices.ContainsFunc(statements, func(q string) bool { return strings.HasPrefix(q, "SELECT role") }) ||
		!slices.ContainsFunc(statements, func(q string) bool { return strings.HasPrefix(q, "INSERT INTO items") }) {
		t.Errorf("statements under the server span = %q, want the identity check (SELECT role ...) and INSERT INTO items", statements)
	}
	t.Logf("trace %s: %d spans, %d statements directly under the server span\n%s", traceID, len(trace), len(statements), tree(trace, root, parentID))
}

// tree prints the trace as an indented tree from the caller's span.
func tree(trace []span, root span, caller string) string {
	children := map[string][]span{}
	for _, s := range trace {
		children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
	}
	for _, c := range children {
		slices.SortFunc(c, func(a, b span) int { return strings.Compare(string(a.Start), string(b.Start)) })
	}
	kinds := map[int]string{1: "internal", kindServer: "server", kindClient: "client", 4: "producer", 5: "consumer"}
	var b strings.Builder
	fmt.Fprintf(&b, "  (caller %s, from traceparent)\n", caller)
	var walk func(s span, depth int)
	walk = func(s span, depth int) {
		keys := make([]string, 0, len(s.Attributes))
		for _, a := range s.Attributes {
			if a.Key != "db.query.text" {
				keys = append(keys, a.Key+"="+a.str())
			}
		}
		fmt.Fprintf(&b, "  %s%s [%s, %s, %s] %s", strings.Repeat("  ", depth), s.Name, kinds[s.Kind], s.duration().Round(time.Microsecond), s.SpanID, strings.Join(keys, " "))
		if q, ok := attr(s.Attributes, "db.query.text"); ok {
			q = strings.Join(strings.Fields(q), " ")
			if len(q) > 60 {
				q = q[:60] + "..."
			}
			fmt.Fprintf(&b, " db.query.text=%q", q)
		}
		b.WriteString("\n")
		for _, c := range children[s.SpanID] {
			walk(c, depth+1)
		}
	}
	walk(root, 1)
	return b.String()
}

// checkAccessLog finds the server's access log line of POST /items and
// holds its ids to the server span's.
func checkAccessLog(t *testing.T, server *apitest.Process, spans []span, traceID string) {
	t.Helper()
	var line map[string]any
	for _, l := range server.Logged(t, "request") {
		if l["method"] == http.MethodPost && l["route"] == "/items" {
			if line != nil {
				t.Fatalf("two access log lines for POST /items: %v and %v", line, l)
			}
			line = l
		}
	}
	if line == nil {
		t.Fatalf("no access log line for POST /items in the server's stdout")
	}
	i := slices.IndexFunc(spans, func(s span) bool { return s.Kind == kindServer && s.Name == "POST /items" })
	if line["trace_id"] != traceID || line["span_id"] != spans[i].SpanID {
		t.Errorf("access log line has trace_id %v span_id %v, want %s and the server span's %s", line["trace_id"], line["span_id"], traceID, spans[i].SpanID)
	}
	t.Logf("access log line: trace_id=%v span_id=%v status=%v request_id=%v", line["trace_id"], line["span_id"], line["status"], line["request_id"])
}
