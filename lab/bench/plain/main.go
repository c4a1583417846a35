// Command plain is the physical limit `make bench` measures the template
// against: the template's routes, SQL, JSON and auth rules written with
// nothing but net/http, pgxpool and golang-jwt, and nothing else: no
// logging, no request ids, no metrics, no security headers. See package
// yardstick.
package main

import "github.com/example/apitemplate/lab/bench/internal/yardstick"

func main() { yardstick.Main(yardstick.Plain) }
