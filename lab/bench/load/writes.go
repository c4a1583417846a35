package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The cost of the write headers: POST /items with an Idempotency-Key and
// PUT /items/{id} with If-Match, each beside the same request without, on
// one template server (the yardsticks have neither header). Each
// connection sends keys of its own, never repeated, so every keyed POST
// stores its key and answer; and updates an item of its own (another for
// each of the two PUT cases, which alternate), sending the ETag its last
// answer gave, so every If-Match holds and the update runs.
const writesName = "write headers"

// writesBody is what every POST and PUT of the phase sends.
const writesBody = `{"name":"Teapot","description":"Short and stout","price_cents":1999}`

// writesCases are the phase's cases in pairs: the plain request, then the
// same with its header. maxConns bounds the connection numbers they see.
func writesCases(token string, maxConns int) [][2]benchCase {
	fixed := func(p string) func(int) string { return func(int) string { return p } }
	// The bench user's own seeded items, one per connection and PUT case:
	// 1..maxConns for the plain one, the next maxConns for If-Match.
	ownItem := func(first int) func(int) string {
		return func(w int) string { return "/items/" + strconv.Itoa(first+w) }
	}

	run := time.Now().UnixNano()
	sent := make([]int, maxConns) // keyed POSTs per connection, for unique keys
	key := func(w int) http.Header {
		sent[w]++
		return http.Header{"Idempotency-Key": {fmt.Sprintf("bench-%d-%d-%d", run, w, sent[w])}}
	}

	etags := make([]string, maxConns) // the ETag of each connection's item, from its last answer
	ifMatch := func(w int) http.Header {
		if etags[w] == "" {
			return nil // the first update learns it
		}
		return http.Header{"If-Match": {etags[w]}}
	}
	remember := func(w int, h http.Header) { etags[w] = h.Get("ETag") }

	post := benchCase{name: "POST /items", method: http.MethodPost, pathFor: fixed("/items"), token: token,
		want: http.StatusCreated, body: []byte(writesBody)}
	put := benchCase{name: "PUT /items/{id}", method: http.MethodPut, pathFor: ownItem(1), token: token,
		want: http.StatusOK, body: []byte(writesBody)}
	keyed, conditional := post, put
	keyed.name, keyed.header = "POST /items + Idempotency-Key", key
	conditional.name, conditional.pathFor = "PUT /items/{id} + If-Match", ownItem(1+maxConns)
	conditional.header, conditional.answered = ifMatch, remember
	return [][2]benchCase{{post, keyed}, {put, conditional}}
}

// runWrites measures writesCases on a template server of its own, the
// plain and the headed request of each pair interleaved in every round.
func runWrites(newServer func(name, bin string, env ...string) (*server, error), bin, token string, o options) ([]verdict, error) {
	if o.items < 2*o.conns {
		return nil, fmt.Errorf("%s: -items %d leaves no two items of its own for each of %d connections", writesName, o.items, o.conns)
	}
	s, err := newServer(templateName+" (writes)", bin, "APP_ENV=production")
	if err != nil {
		return nil, err
	}
	if err := s.start(1); err != nil {
		return nil, err
	}
	defer s.stop()

	fmt.Printf("\n%s: one template server, each request beside the same with its header, interleaved in each of %d round(s), %d connections, %s warm-up + %s measured\n",
		writesName, o.rounds, o.conns, o.warmup, o.duration)
	fmt.Printf("  every Idempotency-Key is new (stored with its answer); every If-Match is the item's current ETag (the update runs)\n\n")
	fmt.Printf("%-30s | %8s %9s %9s %6s | %10s %11s\n", "case", "rps", "p50", "p99", "errors", "CPU/req", "DB CPU/req")
	fmt.Println(strings.Repeat("-", 94))
	var verdicts []verdict
	var ratios []string
	for _, pair := range writesCases(token, o.conns) {
		var st [2]stats
		for range o.rounds {
			for i, c := range pair {
				if err := c.drive(s, o.conns, o.warmup, nil); err != nil {
					return nil, err
				}
				if err := c.drive(s, o.conns, o.duration, &st[i]); err != nil {
					return nil, err
				}
			}
		}
		for i, c := range pair {
			fmt.Printf("%-30s | %8.0f %9s %9s %6d | %10s %11s\n", c.name, st[i].rps(),
				ms(st[i].percentile(0.5)), ms(st[i].percentile(0.99)), st[i].errors, us(st[i].cpuPerRequest()), st[i].dbCPUText())
			line := fmt.Sprintf("[%s] %s: errors %d", writesName, c.name, st[i].errors)
			if st[i].errors > 0 {
				line += " (first: " + st[i].firstErr + ")"
			}
			check(&verdicts, st[i].errors == 0, "%s", line)
		}
		plain, headed := &st[0], &st[1]
		ratios = append(ratios, fmt.Sprintf("%-30s | against none: rps %.2fx, server CPU/req %.2fx (+%s), DB CPU/req %.2fx",
			pair[1].name, headed.rps()/plain.rps(),
			float64(headed.cpuPerRequest())/float64(plain.cpuPerRequest()), us(headed.cpuPerRequest()-plain.cpuPerRequest()),
			float64(headed.dbCPUPerRequest())/float64(plain.dbCPUPerRequest())))
	}
	fmt.Println()
	for _, r := range ratios {
		fmt.Println(r)
	}
	return verdicts, nil
}
