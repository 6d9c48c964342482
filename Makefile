# Signoff. `make dev` runs everything locally; `make test` runs every test on real servers.
GO ?= go
TEMPORAL_CLI_VERSION := v1.5.1
BIN := $(CURDIR)/bin

.PHONY: dev test build bench chaos clean

## dev: Postgres + Temporal dev server (with UI) + migrations + demo data + worker + API; prints URLs and tokens.
dev: bin/temporal build
	bin/signoff dev

## build: the signoff binary into bin/.
build:
	$(GO) build -o bin/signoff ./cmd/signoff

## test: starts a private Postgres and Temporal dev server, runs every test with the race detector, tears down.
test: bin/temporal
	$(GO) run ./cmd/testenv -- $(GO) test -race -count=1 -timeout 20m ./...

# The pinned Temporal CLI (server 1.29.1), built from the Go module proxy. The stamp file makes a
# version bump rebuild it.
bin/temporal: bin/.temporal-$(TEMPORAL_CLI_VERSION)
bin/.temporal-$(TEMPORAL_CLI_VERSION):
	mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)
	rm -f $(BIN)/.temporal-* && touch $@

clean:
	rm -rf bin .data

## bench: performance figures against baselines measured in the same run (see BENCHMARKS.md).
bench: bin/temporal
	$(GO) run ./cmd/testenv -- $(GO) run ./cmd/bench $(BENCH_ARGS)

## chaos: the crash suite in its full form (make test runs a shorter form of the same tests).
chaos: bin/temporal
	SIGNOFF_CHAOS=full $(GO) run ./cmd/testenv -- $(GO) test -count=1 -v -timeout 30m -run Chaos ./chaos/
