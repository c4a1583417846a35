package main

import (
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The cost of tracing: the template binary three times, interleaved within
// every round like the servers of the main cases:
//
//   - off: no OTEL_* variable, today's default;
//   - off again: the very same, so that off again / off shows how far apart
//     two identical servers measure on this machine, which is the least
//     difference these figures can tell;
//   - on: OTEL_TRACES_SAMPLER=always_on, every span sent by OTLP/HTTP to a
//     sink in this process that decodes just enough to count the spans and
//     answers 200: the server's own cost, not a collector's.
//
// There is no "template without tracing code" to hold off to a 2% line:
// the template has no build without it. Off is that path all the same: it
// mounts no middleware, sets no statement hook and wraps no log handler
// (lab/otel/cost holds the app to that).
const tracingName = "tracing"

// Servers of the tracing phase, in the order every round runs them.
var tracingServers = []string{"off", "off again", "on"}

// tracingCases are the main cases the tracing phase runs, each with the
// name of the server span a request of it makes (otelgin names it by Gin's
// route template).
var tracingCases = []struct{ name, span string }{
	{"GET /", "GET /"},
	{"GET /items/{id}", "GET /items/:id"},
}

// minSpansExported is the share of the server spans the traced server made
// that the sink must receive; fewer means its exporter dropped them.
const minSpansExported = 0.99

// runTracing measures the cases named by tracingCases on the three servers
// that newServer makes of bin.
func runTracing(newServer func(name, bin string, env ...string) (*server, error), bin string, all []benchCase, o options) (_ []verdict, err error) {
	var cs []benchCase
	spanOf := map[string]string{}
	for _, tc := range tracingCases {
		i := slices.IndexFunc(all, func(c benchCase) bool { return c.name == tc.name })
		if i < 0 {
			return nil, fmt.Errorf("tracing: no case %q", tc.name)
		}
		cs = append(cs, all[i])
		spanOf[tc.name] = tc.span
	}
	sink, err := startSink()
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, sink.close()) }()

	envs := map[string][]string{
		"off":       {"APP_ENV=production"},
		"off again": {"APP_ENV=production"},
		"on": {"APP_ENV=production", "OTEL_EXPORTER_OTLP_ENDPOINT=http://" + sink.addr,
			"OTEL_TRACES_SAMPLER=always_on", "OTEL_SERVICE_NAME=bench"},
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, name := range tracingServers {
		s, err := newServer("tracing "+name, bin, envs[name]...)
		if err != nil {
			return nil, err
		}
		if err := s.start(1); err != nil {
			return nil, err
		}
		servers = append(servers, s)
	}
	on := servers[len(servers)-1]

	fmt.Printf("\n%s: the template three times, interleaved %s in each of %d round(s), %d connections, %s warm-up + %s measured:\n",
		tracingName, strings.Join(tracingServers, "/"), o.rounds, o.conns, o.warmup, o.duration)
	fmt.Printf("  off and off again: no OTEL_* variable (today's default; the two differ only by chance, which is the figures' resolution)\n")
	fmt.Printf("  on: OTEL_TRACES_SAMPLER=always_on, OTLP/HTTP protobuf to a sink in the bench (%s) that counts the spans and answers 200\n\n", sink.addr)

	type result struct {
		name   string
		stats  []stats     // per server, all rounds
		rounds [][]float64 // per server, rps of each round
	}
	var results []result
	sent := map[string]int{} // requests to the traced server, by the name of their server span
	for _, c := range cs {
		r := result{name: c.name, stats: make([]stats, len(servers)), rounds: make([][]float64, len(servers))}
		for range o.rounds {
			for i, s := range servers {
				var warm, st stats
				if err := c.drive(s, o.conns, o.warmup, &warm); err != nil {
					return nil, err
				}
				if err := c.drive(s, o.conns, o.duration, &st); err != nil {
					return nil, err
				}
				r.rounds[i] = append(r.rounds[i], st.rps())
				r.stats[i].add(&st)
				if s == on {
					sent[spanOf[c.name]] += warm.requests + st.requests
				}
			}
		}
		results = append(results, r)
	}
	for _, s := range servers {
		if s.rss, err = peakRSS(s.cmd.Process.Pid); err != nil {
			return nil, err
		}
	}
	// SIGTERM: the traced server sends what it still holds before it exits.
	on.stop()

	fmt.Printf("%-16s %-10s | %8s %9s %9s %6s | %10s | %s\n", "case", "server", "rps", "p50", "p99", "errors", "CPU/req", "rps of each round")
	fmt.Println(strings.Repeat("-", 100))
	for _, r := range results {
		for i, s := range tracingServers {
			st := &r.stats[i]
			name := r.name
			if i > 0 {
				name = ""
			}
			rounds := make([]string, len(r.rounds[i]))
			for j, v := range r.rounds[i] {
				rounds[j] = fmt.Sprintf("%.0f", v)
			}
			fmt.Printf("%-16s %-10s | %8.0f %9s %9s %6d | %10s | %s\n", name, s, st.rps(), ms(st.percentile(0.5)), ms(st.percentile(0.99)),
				st.errors, us(st.cpuPerRequest()), strings.Join(rounds, " "))
		}
	}
	fmt.Println()
	fmt.Printf("%-16s %-16s | %6s %6s %6s %8s\n", "ratios", "", "rps", "p50", "p99", "CPU/req")
	fmt.Println(strings.Repeat("-", 68))
	var verdicts []verdict
	for _, r := range results {
		off, again, traced := &r.stats[0], &r.stats[1], &r.stats[2]
		for i, p := range []struct {
			label string
			a, b  *stats
		}{{"on / off", traced, off}, {"off again / off", again, off}} {
			name := r.name
			if i > 0 {
				name = ""
			}
			fmt.Printf("%-16s %-16s | %6.3f %6.3f %6.3f %8.3f\n", name, p.label,
				p.a.rps()/p.b.rps(),
				float64(p.a.percentile(0.5))/float64(p.b.percentile(0.5)),
				float64(p.a.percentile(0.99))/float64(p.b.percentile(0.99)),
				float64(p.a.cpuPerRequest())/float64(p.b.cpuPerRequest()))
		}
		errs, first := 0, ""
		for i := range servers {
			errs += r.stats[i].errors
			if first == "" && r.stats[i].firstErr != "" {
				first = tracingServers[i] + ": " + r.stats[i].firstErr
			}
		}
		line := fmt.Sprintf("[tracing] %s: errors off %d, off again %d, on %d", r.name, off.errors, again.errors, traced.errors)
		if errs > 0 {
			line += " (first: " + first + ")"
		}
		check(&verdicts, errs == 0, "%s", line)
	}
	fmt.Println()
	for i, s := range servers {
		fmt.Printf("tracing %-10s peak RSS (VmHWM) %6.1f MB\n", tracingServers[i], float64(s.rss)/(1<<20))
	}
	names := sink.received()
	byCount := slices.SortedFunc(maps.Keys(names), func(a, b string) int { return cmp.Or(names[b]-names[a], strings.Compare(a, b)) })
	counts := make([]string, len(byCount))
	for i, n := range byCount {
		counts[i] = fmt.Sprintf("%q %d", n, names[n])
	}
	total := 0
	for _, n := range sent {
		total += n
	}
	fmt.Printf("sink: %d export requests, %.1f MB of protobuf, %d spans (%.2f a request sent, warm-ups included): %s\n",
		sink.requests.Load(), float64(sink.bytes.Load())/(1<<20), sink.spans.Load(), float64(sink.spans.Load())/float64(max(total, 1)), strings.Join(counts, ", "))
	for _, tc := range tracingCases {
		share := float64(names[tc.span]) / float64(max(sent[tc.span], 1))
		check(&verdicts, sink.bad.Load() == 0 && share >= minSpansExported,
			"[tracing] on, %s: the sink received %d server spans %q for %d requests (%.3f >= %.2f), %d bad export requests",
			tc.name, names[tc.span], tc.span, sent[tc.span], share, minSpansExported, sink.bad.Load())
	}
	fmt.Println("no PASS/FAIL for \"tracing off within 2% of the template without any tracing code\": the template has no build without it.")
	fmt.Println("Off is that path: no middleware, no statement hook, no log wrapper (lab/otel/cost checks the app for each and benchmarks it);")
	fmt.Println("off again / off above is what two identical servers differ by here, the least difference these runs can tell.")
	return verdicts, nil
}

// otlpSink is an OTLP/HTTP receiver that only counts: POST /v1/traces with
// an ExportTraceServiceRequest in protobuf is answered 200 with an empty
// ExportTraceServiceResponse (no partial failure).
type otlpSink struct {
	addr                        string
	srv                         *http.Server
	requests, spans, bytes, bad atomic.Int64
	done                        chan struct{}
	serveErr                    error // set before done is closed

	mu    sync.Mutex
	names map[string]int // spans received, by name
}

// received returns how many spans of each name the sink has received.
func (k *otlpSink) received() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.names)
}

func startSink() (*otlpSink, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("OTLP sink: %w", err)
	}
	k := &otlpSink{addr: ln.Addr().String(), done: make(chan struct{}), names: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", k.export)
	k.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(k.done)
		if err := k.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			k.serveErr = err
		}
	}()
	return k, nil
}

func (k *otlpSink) export(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			k.bad.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer func() { _ = gz.Close() }()
		body = gz
	}
	b, err := io.ReadAll(body)
	if err != nil {
		k.bad.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	k.mu.Lock()
	n, err := countSpans(b, k.names)
	k.mu.Unlock()
	if err != nil {
		k.bad.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	k.requests.Add(1)
	k.spans.Add(int64(n))
	k.bytes.Add(int64(len(b)))
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
}

func (k *otlpSink) close() error {
	err := k.srv.Close()
	<-k.done
	if err = errors.Join(err, k.serveErr); err != nil {
		return fmt.Errorf("OTLP sink: %w", err)
	}
	return nil
}

// countSpans counts the spans of an ExportTraceServiceRequest by name:
// resource_spans (1) > scope_spans (2) > spans (2), each a repeated
// message, and a span's name is its field 5.
func countSpans(b []byte, names map[string]int) (int, error) {
	n := 0
	err := eachField(b, 1, func(rs []byte) error {
		return eachField(rs, 2, func(ss []byte) error {
			return eachField(ss, 2, func(span []byte) error {
				n++
				named := false
				err := eachField(span, 5, func(name []byte) error {
					names[string(name)]++
					named = true
					return nil
				})
				if err == nil && !named {
					names[""]++
				}
				return err
			})
		})
	})
	return n, err
}

// eachField calls fn with every length-delimited field numbered num in the
// message b, skipping the others.
func eachField(b []byte, num protowire.Number, fn func([]byte) error) error {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return fmt.Errorf("protobuf tag: %w", protowire.ParseError(l))
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return fmt.Errorf("protobuf field %d: %w", num, protowire.ParseError(l))
			}
			if err := fn(v); err != nil {
				return err
			}
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return fmt.Errorf("protobuf field %d: %w", n, protowire.ParseError(l))
		}
		b = b[l:]
	}
	return nil
}
