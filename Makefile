# steady — the two commands a newcomer needs are `make drill` and `make test`.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/steady
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# The suite mostly waits on private servers; more parallel tests than cores pays off.
TESTFLAGS ?= -race -timeout 25m -parallel 4

.PHONY: build test lint deps drill bench fuzz clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/steady

## deps: install missing Debian packages (postgresql, redis-server, tmux, ...)
deps:
	@scripts/deps.sh

## test: the hygiene checks, then the whole suite, with the race detector, against private servers
test: deps build lint
	$(GO) test $(TESTFLAGS) ./...

## lint: formatting, go.mod tidy, vet and staticcheck (a tool of the module, pinned in go.mod);
## any finding fails it
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## drill: the TUI against a private sandbox with an injected fault
drill: deps build
	$(BIN) drill $(SCENARIO)

## bench: benchmarks at production scale, side by side with psql, redis-cli, pg_dump, manage.py and
## Celery's delay(); writes BENCHMARKS.md (BENCH_SCALE=0.05 for a quick smoke run, BENCH_FLAGS=-only audit,cache)
BENCH_SCALE ?= 1
BENCH_RUNS ?= 5
BENCH_FLAGS ?=
bench: deps build
	$(GO) build -o bin/steadybench ./bench/cmd/steadybench
	bin/steadybench -steady $(BIN) -scale $(BENCH_SCALE) -runs $(BENCH_RUNS) $(BENCH_FLAGS)

## fuzz: a short run of every fuzz target, each found by its `func Fuzz…`
## line, so a new one is never left out (FUZZTIME=2m for a longer run)
FUZZTIME ?= 30s
fuzz:
	@set -e; for file in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		dir=$$(dirname $$file); \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "fuzz $$target ($$dir, $(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$dir/; \
		done; \
	done

clean:
	rm -rf bin
