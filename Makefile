# Every target has a `##` line: `make help` prints them.
.DEFAULT_GOAL := help
SHELL := bash

GOLANGCI_LINT := go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
# No settings here: the server (and createdb) read the environment, then
# .env, then their defaults, so `make run` and `make dev` honour .env.

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: generate
generate: ## Regenerate wire_gen.go, docs/swagger.* and docs/openapi.json
	go tool wire ./...
	go tool swag init --quiet -g cmd/server/main.go -o docs --outputTypes go,json,yaml
	go run ./cmd/openapi -in docs/swagger.json -out docs/openapi.json

.PHONY: resource
resource: ## Generate a CRUD resource: make resource NAME=product FIELDS="name:string price_cents:int64 note:text?"
	go run ./cmd/resource -name '$(NAME)' -fields '$(FIELDS)'

.PHONY: rename
rename: ## Give this copy its own module path: make rename MODULE=github.com/acme/shop
	go run ./cmd/rename '$(MODULE)'

.PHONY: db
db: ## Create the app database named in DATABASE_URL if it is missing
	go run ./cmd/createdb

.PHONY: run
run: generate db ## Generate, create the database and serve on HTTP_ADDR (default :8080)
	go run ./cmd/server

.PHONY: dev
dev: db ## Serve with live reload (air, .air.toml): an edit regenerates what it made stale, rebuilds, restarts
	go tool air -c .air.toml

# dev-build is what air runs on every change, so it regenerates only what
# is stale, by file times: a full `make generate` costs seconds. A changed
# constructor shows as wire_gen.go not compiling, and is regenerated then.
.PHONY: dev-build
dev-build: wire_gen.go docs/openapi.json ## Regenerate stale generated code, build tmp/dev/server (air runs it)
	@mkdir -p tmp/dev
	@if ! go build -o tmp/dev/server ./cmd/server 2>tmp/dev/build.log; then \
	  if grep -q 'wire_gen\.go' tmp/dev/build.log; then \
	    echo "wire_gen.go does not compile: regenerating it"; \
	    go tool wire gen . && go build -o tmp/dev/server ./cmd/server; \
	  else cat tmp/dev/build.log >&2; exit 1; fi; \
	fi

# Only the root package holds injectors; `wire ./...` would load every package.
wire_gen.go: wire.go $(wildcard providers/*.go)
	go tool wire gen .

docs/openapi.json: cmd/server/main.go $(filter-out %_test.go,$(wildcard controllers/*.go))
	go tool swag init --quiet -g cmd/server/main.go -o docs --outputTypes go,json,yaml
	go run ./cmd/openapi -in docs/swagger.json -out docs/openapi.json

.PHONY: test-dev
test-dev: ## Check the make dev loop in a temp copy: an edit is served, a compile error keeps the old server
	scripts/dev-cycle.sh

.PHONY: routes
routes: ## List the routes, their handlers and which need a bearer token (no database needed)
	@go run ./cmd/server routes

.PHONY: schema
schema: ## Print the OpenAPI 3 document, e.g. make schema > openapi.json
	@go run ./cmd/server schema

.PHONY: build
build: ## Build the server binary into bin/server
	go build -o bin/server ./cmd/server

.PHONY: test
test: ## Run every test against the local PostgreSQL, with the race detector
	go test -race -count=1 ./...

# The fault tests carry the build tag "faults", so `make test` skips them.
# go test -fuzz takes one package and one target per run.
FUZZ_TARGETS := FuzzCreateUserRequest FuzzUpdateUserRequest FuzzLoginRequest FuzzCreateItemRequest FuzzUpdateItemRequest FuzzListQuery FuzzPathID
FUZZTIME ?= 8s

.PHONY: test-faults
test-faults: ## Races, outages, shutdown under load, slow clients, headers, then fuzz every request parser (~3 min)
	go test -tags faults -race -count=1 -v ./faults/
	@for f in $(FUZZ_TARGETS); do \
	  echo "go test -run '^$$' -fuzz '^$$f$$' -fuzztime $(FUZZTIME) ./controllers/"; \
	  go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -parallel 2 ./controllers/ || exit 1; \
	done

# The cluster tests carry the build tag "cluster"; besides PostgreSQL they
# need pgbouncer and nginx installed (Debian's packages; .ci/run installs
# them), and start their own instances of both.
.PHONY: test-cluster
test-cluster: ## Three replicas behind nginx and PgBouncer: exec modes, one migration, shared tokens and throttling, lossless rolling restart (~1 min)
	go test -tags cluster -race -count=1 -v ./cluster/

.PHONY: e2e
e2e: ## Lint the documents; run a generated TypeScript client and the Swagger UI (Chromium) against a real server
	bash e2e/run.sh

# BENCH_FLAGS passes options to bench/load, e.g. BENCH_FLAGS='-rounds 1 -duration 10s'.
.PHONY: bench
bench: ## Load-test the server against a plain net/http + pgx baseline, then run the Go benchmarks (~3 min)
	go build -o bin/server ./cmd/server
	go build -o bin/baseline ./bench/baseline
	go run ./bench/load -server bin/server -baseline bin/baseline $(BENCH_FLAGS)
	go test -run '^$$' -bench . -benchmem . ./controllers

.PHONY: check-generated
check-generated: generate ## Fail when committed generated code is stale
	@git diff --exit-code -- wire_gen.go docs/ || { echo "generated code is stale: run make generate and commit"; exit 1; }

.PHONY: fmt
fmt: ## gofmt the code and swag fmt the annotations
	gofmt -w $$(git ls-files '*.go' | grep -v '^docs/')
	go tool swag fmt -d ./ -g cmd/server/main.go

.PHONY: lint
lint: ## gofmt, go vet and golangci-lint (config in .golangci.yml)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^docs/'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	go vet ./...
	$(GOLANGCI_LINT) run ./...
