# cueapi — run `make` or `make help` for the list of targets.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

SQLC_VERSION := v1.31.1
GOVULNCHECK_VERSION := v1.9.0
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
SQLC := bin/sqlc
ITERATIONS ?= 1
BENCH_CUES ?= 10000
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

# Generated files (api/apigen/marshal.go, beside them, is written by hand).
GENERATED := api/apigen/apigen.gen.go api/apiclient adapters/postgres/internal/dbsqlc adapters/sqlite/internal/dbsqlc core/zones.gen.go clients/typescript/src/schema.ts

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z/_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

.PHONY: run
run: ## run the service on the embedded default (SQLite in ./data, in-process limiter)
	go run ./cmd/cueapi serve

.PHONY: build
build: ## build bin/cueapi
	go build -o bin/cueapi ./cmd/cueapi

.PHONY: image
image: ## container image with podman or docker (IMAGE_FROM=prebuilt: FROM scratch, no registry needed)
	scripts/image.sh

.PHONY: test
test: test/ts ## run the whole test suite with the race detector (PostgreSQL and Redis contract runs included)
	go test -race -count=1 -timeout=30m ./...

.PHONY: test/ts
test/ts: ## TypeScript client: compile-only types test and node --test suite against a live server (Node >= 18.17)
	clients/typescript/scripts/make.sh test

.PHONY: test/short
test/short: ## run the tests without the race detector
	go test -count=1 -timeout=30m ./...

.PHONY: vet
vet: ## go vet
	go vet ./...

.PHONY: lint
lint: vet ## vet + gofmt check + the import table (internal/importcheck/table.go, docs/architecture.md)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	go run ./internal/importcheck

$(SQLC):
	GOBIN=$(CURDIR)/bin go install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)

bin/govulncheck:
	GOBIN=$(CURDIR)/bin go install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

bin/indexdb:
	GOBIN=$(CURDIR)/bin go install golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION)

.PHONY: vuln
vuln: bin/govulncheck bin/indexdb ## govulncheck against an offline copy of the Go vulnerability database
	VULNDB_VERSION=$(VULNDB_VERSION) scripts/vulncheck.sh

.PHONY: generate
generate: generate/openapi generate/sqlc generate/zones generate/ts ## regenerate all generated code

.PHONY: generate/openapi
generate/openapi:
	go tool oapi-codegen -config api/oapi-codegen.yaml openapi.yaml
	go tool oapi-codegen -config api/oapi-codegen-client.yaml openapi.yaml

.PHONY: generate/sqlc
generate/sqlc: $(SQLC)
	$(SQLC) generate

.PHONY: generate/zones
generate/zones:
	go run ./core/internal/zonegen core/zones.gen.go

.PHONY: generate/ts
generate/ts: ## TypeScript client types from openapi.yaml (Node >= 18.17)
	clients/typescript/scripts/make.sh generate

.PHONY: verify
verify: $(SQLC) ## fail if generated code is stale
	$(SQLC) diff
	$(MAKE) --no-print-directory generate
	@git diff --exit-code --stat -- $(GENERATED) || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- $(GENERATED))" || { git status --porcelain -- $(GENERATED); echo "untracked generated files"; exit 1; }

.PHONY: bench
bench: bench/micro bench/e2e bench/api ## all benchmarks: micro (ITERATIONS=n), end-to-end delivery (BENCH_CUES=n) and the request path

.PHONY: bench/micro
bench/micro: ## micro-benchmarks, ITERATIONS iterations each
	go test -run='^$$' -bench=. -benchtime=$(ITERATIONS)x -benchmem ./...

.PHONY: bench/e2e
bench/e2e: ## BENCH_CUES one-time cues due at once, delivered to a local sink, on SQLite and PostgreSQL, next to pgbench
	BENCH_CUES=$(BENCH_CUES) scripts/bench-e2e.sh

.PHONY: bench/api
bench/api: ## request path: API req/s next to a bare pgx handler, create rate at 1k/100k stored cues (BENCH_PROFILE=1: CPU profile top)
	BENCH_PROFILE=$(BENCH_PROFILE) scripts/bench-api.sh

.PHONY: dup/adapters
dup/adapters: ## share of the PostgreSQL adapter's lines repeated in the SQLite adapter (target <= 25 %)
	python3 scripts/adapter-duplication.py .

.PHONY: db/reset
db/reset: ## delete the embedded database in ./data
	rm -f data/cueapi.db data/cueapi.db-wal data/cueapi.db-shm

.PHONY: tidy
tidy: ## go mod tidy
	go mod tidy
