# Every target has a `##` line: `make help` prints them. Settings come from
# the environment, then .env, then their defaults (see .env.example).
.DEFAULT_GOAL := help
SHELL := bash

# Developer tools run at pinned versions, outside the service's module graph.
AIR := go run github.com/air-verse/air@v1.67.4
GOLANGCI_LINT := go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

SWAG_INIT := go tool swag init --quiet -g cmd/server/main.go -o docs --outputTypes json
OPENAPI := go run ./cmd/openapi -in docs/swagger.json -out docs/openapi.json

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: run
run: generate db ## Generate, create the database and serve on HTTP_ADDR (default :8080)
	go run ./cmd/server

.PHONY: test
test: ## Run every test against the local PostgreSQL, with the race detector
	go test -race -count=1 ./...

.PHONY: generate
generate: ## Regenerate wire_gen.go, docs/swagger.json and docs/openapi.json
	go tool wire gen .
	$(SWAG_INIT)
	$(OPENAPI)

.PHONY: check-generated
check-generated: generate ## Fail when committed generated code is stale
	@git diff --exit-code -- wire_gen.go docs/ || { echo "generated code is stale: run make generate and commit"; exit 1; }

.PHONY: lint
lint: ## gofmt, go vet and golangci-lint (config in .golangci.yml)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^docs/'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	go vet ./...
	$(GOLANGCI_LINT) run ./...

.PHONY: fmt
fmt: ## gofmt the code and swag fmt the annotations
	gofmt -w $$(git ls-files '*.go' | grep -v '^docs/')
	go tool swag fmt -d ./ -g cmd/server/main.go

.PHONY: resource
resource: ## Generate a CRUD resource: make resource NAME=product FIELDS="name:string price_cents:int64 note:text?"
	go run ./cmd/resource -name '$(NAME)' -fields '$(FIELDS)'

.PHONY: rename
rename: ## Give this copy its own module path: make rename MODULE=github.com/acme/shop
	go run ./cmd/rename '$(MODULE)'

.PHONY: db
db: ## Create the app database named in DATABASE_URL if it is missing
	go run ./cmd/createdb

.PHONY: routes
routes: ## List the routes and who may call each (no database needed)
	@go run ./cmd/server routes

.PHONY: schema
schema: ## Print the OpenAPI 3 document, e.g. make schema > openapi.json
	@go run ./cmd/server schema

.PHONY: build
build: ## Build the server binary into bin/server
	go build -o bin/server ./cmd/server

.PHONY: dev
dev: db ## Serve with live reload (air, .air.toml): an edit regenerates what it made stale, rebuilds, restarts
	$(AIR) -c .air.toml

# dev-build is what air runs on every change, so it regenerates only what
# is stale, by file times: a full `make generate` costs seconds. A changed
# constructor shows as wire_gen.go not compiling, and is regenerated then.
.PHONY: dev-build
dev-build: wire_gen.go docs/openapi.json
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
	$(SWAG_INIT)
	$(OPENAPI)
