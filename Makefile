# Signoff. `make dev` runs everything locally; `make test` runs every test on real servers.
GO ?= go
TEMPORAL_CLI_VERSION := v1.5.1
BIN := $(CURDIR)/bin

# Temporal connection: `signoff dev` (make dev), `signoff setup`, api, worker and the test harness's
# clients (testenv.Temporal, make test) all dial through temporalclient.Dial, so the TEMPORAL_*
# variables and the `temporal` CLI's profile file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) apply to
# them as they do to the CLI; see README.
.PHONY: dev cluster test-cluster test lint build bench bench-server bench-cluster chaos clean

## dev: Postgres + Temporal dev server (with UI) + migrations + demo data + worker + API; prints URLs and tokens.
dev: bin/temporal build
	bin/signoff dev

## cluster: the production shape on this machine: Postgres, a Temporal server on Postgres, the Temporal Web UI,
## migrations, two `signoff api` and two `signoff worker` processes; prints URLs and tokens; Ctrl-C stops it all.
cluster: bin/temporal-server bin/temporal-ui-server build
	bin/signoff cluster

## test-cluster: the opt-in test of `make cluster` (not part of make test: it needs the server and UI binaries).
test-cluster: bin/temporal bin/temporal-server bin/temporal-ui-server
	SIGNOFF_TEST_CLUSTER=1 $(GO) run ./cmd/testenv -- $(GO) test -count=1 -v -timeout 15m -run TestCluster ./cmd/signoff/

## build: the signoff binary into bin/, stamped with the git revision that `signoff version` prints
## (Go's own VCS stamping misses git worktrees; -buildvcs=auto still stamps the commit time in a checkout).
REVISION = $(shell git rev-parse HEAD 2>/dev/null)$(shell git status --porcelain 2>/dev/null | grep -q . && echo +dirty)
build:
	$(GO) build -buildvcs=auto -ldflags "-X main.buildRevision=$(REVISION)" -o bin/signoff ./cmd/signoff

## lint: go vet and staticcheck (pinned, built into bin/ from the Go module proxy), both clean.
lint: bin/staticcheck
	$(GO) vet ./...
	bin/staticcheck ./...

STATICCHECK_VERSION := v0.8.2
bin/staticcheck: bin/.staticcheck-$(STATICCHECK_VERSION)
bin/.staticcheck-$(STATICCHECK_VERSION):
	mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	rm -f $(BIN)/.staticcheck-* && touch $@

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

# The Temporal server and its SQL tool (the release the CLI's dev server embeds), for bench-server and
# cluster only: `make test` and `make dev` never build them.
TEMPORAL_SERVER_VERSION := v1.29.1
bin/temporal-server: bin/.temporal-server-$(TEMPORAL_SERVER_VERSION)
bin/.temporal-server-$(TEMPORAL_SERVER_VERSION):
	mkdir -p $(BIN)/.server-build
	GOBIN=$(BIN)/.server-build $(GO) install go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION) \
		go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION)
	mv $(BIN)/.server-build/server $(BIN)/temporal-server && mv $(BIN)/.server-build/sql $(BIN)/temporal-sql-tool
	rm -rf $(BIN)/.server-build $(BIN)/.temporal-server-* && touch $@

# The Temporal Web UI server (the release the CLI's dev server embeds), pinned beside the server, for
# cluster only.
TEMPORAL_UI_VERSION := v2.42.1
bin/temporal-ui-server: bin/.temporal-ui-server-$(TEMPORAL_UI_VERSION)
bin/.temporal-ui-server-$(TEMPORAL_UI_VERSION):
	mkdir -p $(BIN)/.ui-build
	GOBIN=$(BIN)/.ui-build $(GO) install github.com/temporalio/ui-server/v2/cmd/server@$(TEMPORAL_UI_VERSION)
	mv $(BIN)/.ui-build/server $(BIN)/temporal-ui-server
	rm -rf $(BIN)/.ui-build $(BIN)/.temporal-ui-server-* && touch $@

clean:
	rm -rf bin .data

## bench: performance figures against baselines measured in the same run (see BENCHMARKS.md).
bench: bin/temporal
	$(GO) run ./cmd/testenv -- $(GO) run ./cmd/bench $(BENCH_ARGS)

## bench-server: the same figures against a Temporal server on Postgres with 4 history shards
## (SIGNOFF_TEST_TEMPORAL_SHARDS), the shape of a production cluster, instead of the dev server.
bench-server: bin/temporal bin/temporal-server
	SIGNOFF_TEST_TEMPORAL=server $(GO) run ./cmd/testenv -- $(GO) run ./cmd/bench $(BENCH_ARGS)

## bench-cluster: `signoff cluster` on a fresh data folder (.data/bench-cluster), ports of its own, then
## `bench -cluster` against it over HTTP through both API processes: decisions against a bare Update on the
## same server, submit throughput, then 50,000 pending requests (BENCH_ARGS="-pending 5000" for a quick run):
## worker RSS, inbox and list latency, decisions at that size. Stops the cluster when the bench ends.
BENCH_CLUSTER_DIR ?= $(CURDIR)/.data/bench-cluster
BENCH_CLUSTER_ENV ?= TEMPORAL_ADDRESS=127.0.0.1:17233 SIGNOFF_HTTP_ADDR=127.0.0.1:18080 SIGNOFF_METRICS_ADDR=127.0.0.1:19090
bench-cluster: bin/temporal-server bin/temporal-ui-server build
	$(GO) build -o bin/bench ./cmd/bench
	rm -rf $(BENCH_CLUSTER_DIR)
	SIGNOFF_DATA_DIR=$(BENCH_CLUSTER_DIR) SIGNOFF_LOG_LEVEL=warn $(BENCH_CLUSTER_ENV) bin/signoff cluster -- bin/bench -cluster $(BENCH_ARGS)

## chaos: the crash suite in its full form (make test runs a shorter form of the same tests).
chaos: bin/temporal
	SIGNOFF_CHAOS=full $(GO) run ./cmd/testenv -- $(GO) test -count=1 -v -timeout 30m -run Chaos ./chaos/
