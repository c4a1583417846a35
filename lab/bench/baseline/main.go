// Command baseline is the same-work yardstick `make bench` measures the
// template against: the template's routes, SQL, JSON and auth rules written
// with nothing but net/http, pgxpool and golang-jwt, plus the per-request
// work the template must do too (a request id, the security headers, one
// access-log line). The difference between the two is what the template's
// structure costs. See package yardstick.
package main

import "github.com/example/apitemplate/lab/bench/internal/yardstick"

func main() { yardstick.Main(yardstick.SameWork) }
