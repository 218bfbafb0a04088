# sixdomain — the two commands a newcomer needs are `make devnet` and `make test`.
GO        ?= go
BIN       ?= bin/sixd
FUZZTIME  ?= 30s
BENCHTIME ?= 1s
# Extra flags for `sixd devnet`, e.g. make devnet DEVNET_FLAGS="--rate 500 --duration 60s"
DEVNET_FLAGS ?=
# The swarm simulator: make sim SCENARIO=simulations/scenarios/regions.toml OUT=sim-out SIM_FLAGS="--seed 2"
SCENARIO  ?= simulations/scenarios/small.toml
OUT       ?= sim-out
SIM_FLAGS ?=
# What `sixd version` and /v1/status report for a `make build` binary;
# override with make build VERSION=1.2.3 COMMIT=abc123.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS    = -X github.com/sixdomain/sixdomain/node.Version=$(VERSION) -X github.com/sixdomain/sixdomain/node.Commit=$(COMMIT)

.PHONY: all build test devnet devnet-admitted sim lint bench bench-devnet fuzz fuzz-consensus clean

all: lint test build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/sixd

# The test command CI runs (README). Real libp2p hosts on loopback and real
# pebble stores in temporary directories; under ten minutes on two cores.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 10m ./...

# A local mesh of real nodes (3 authorities + 2 devices) committing sensor readings.
devnet:
	$(GO) run ./cmd/sixd devnet $(DEVNET_FLAGS)

# The same on an admitted chain: an authority onboards a gateway on the DID
# registry, the gateway onboards every device, then the devices publish.
devnet-admitted:
	$(GO) run ./cmd/sixd devnet --admission admitted $(DEVNET_FLAGS)

# A swarm of real nodes over an in-process network (docs/SIMULATOR.md).
sim:
	$(GO) run ./cmd/sixd sim run $(SCENARIO) --out $(OUT) $(SIM_FLAGS)

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Micro-benchmarks (docs/BENCHMARKS.md lists what each measures).
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./ledger/... ./mempool/
	$(GO) test -run '^$$' -bench IdleDeviceRSS -benchtime 1x ./node/

# The devnet figures of docs/BENCHMARKS.md (3 and 4 authorities + 2 devices, 1 s slots).
bench-devnet:
	$(GO) run ./cmd/sixd devnet --quiet --duration 20s --rate 100 --json devnet-100.json
	$(GO) run ./cmd/sixd devnet --quiet --duration 20s --rate 1000 --sensors 20 --json devnet-1000.json
	$(GO) run ./cmd/sixd devnet --quiet --duration 20s --rate 1500 --sensors 20 --json devnet-1500.json
	$(GO) run ./cmd/sixd devnet --quiet --duration 20s --authorities 4 --rate 1000 --sensors 20 --json devnet-4a-1000.json
	$(GO) run ./cmd/sixd devnet --quiet --duration 20s --authorities 4 --rate 1500 --sensors 20 --json devnet-4a-1500.json
	$(GO) test -run '^$$' -bench SyncCatchUp -benchtime 1x ./node/

# Every native fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# The deterministic consensus simulator (chain/chaintest) over SEEDS random
# scenarios of partitions, crashes, clock skew, loss and an equivocator.
# Replay a failing seed with CONSENSUS_SEED=<n> go test ./chain/chaintest -run TestSeed -v
SEEDS ?= 1000
fuzz-consensus:
	CONSENSUS_SEEDS=$(SEEDS) $(GO) test -count=1 -timeout 60m -run TestFuzzySeeds ./chain/chaintest/

clean:
	rm -rf bin devnet-*.json sim-out
