# Every target has a `##` line: `make help` prints them.
.DEFAULT_GOAL := help
SHELL := bash

GOLANGCI_LINT := go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/app?sslmode=disable
export DATABASE_URL

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: generate
generate: ## Regenerate wire_gen.go, docs/swagger.* and docs/openapi.json
	go tool wire ./...
	go tool swag init --quiet -g cmd/server/main.go -o docs --outputTypes go,json,yaml
	go run ./cmd/openapi -in docs/swagger.json -out docs/openapi.json

.PHONY: db
db: ## Create the app database named in DATABASE_URL if it is missing
	go run ./cmd/createdb

.PHONY: run
run: generate db ## Generate, create the database and serve on HTTP_ADDR (default :8080)
	go run ./cmd/server

.PHONY: build
build: ## Build the server binary into bin/server
	go build -o bin/server ./cmd/server

.PHONY: test
test: ## Run every test against the local PostgreSQL, with the race detector
	go test -race -count=1 ./...

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
