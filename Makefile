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
# The device binary (README: Device build): build tag `device` leaves out
# `sixd sim` (the simulator, gonum/plot, the progress bar); static, stripped.
DEVICE_BIN     ?= bin/sixd-device
DEVICE_FLAGS    = -tags device -trimpath -ldflags "-s -w $(LDFLAGS)"
# make cross: the device binary for each of these GOOS/GOARCH[/GOARM].
CROSS_TARGETS  ?= linux/amd64 linux/arm64 linux/arm/7

# Containers (Dockerfile, deploy/compose.yml): the image and the testnet homes
# the compose network mounts.
IMAGE     ?= sixdomain/sixd:dev
TESTNET   ?= deploy/testnet
COMPOSE   ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

# make bench-compare: the same load against CometBFT's kvstore localnet and a
# sixdomain devnet, one after the other, in one table (docs/BENCHMARKS.md,
# Side by side with CometBFT). CometBFT is installed with go install into
# BENCH_CACHE (ignored by git), once per version.
RATES       ?= 1000,2000,4000,8000
DURATION    ?= 20s
SLOT        ?= 200ms
TX_BYTES    ?= 200
# The sixdomain load's shape (after --authorities 4 --slot --rate --duration).
BENCH_DEVNET_FLAGS ?= --devices 0 --sensors 40
BENCH_FLAGS ?=
CMT_VERSION ?= v1.0.1
BENCH_CACHE ?= $(CURDIR)/.cache/bench
CMT_BIN      = $(BENCH_CACHE)/bin/cometbft

# End-to-end fault runs (e2e/, docs/RELIABILITY.md): make e2e MANIFEST=e2e/manifests/long.toml
MANIFEST  ?= e2e/manifests/ci.toml
E2E_MODE  ?= auto
E2E_OUT   ?= e2e-out/$(basename $(notdir $(MANIFEST)))-$(shell date +%Y%m%d-%H%M%S)

.PHONY: all build build-static build-device build-light cross test test-docker devnet devnet-admitted sim lint bench bench-devnet bench-compare cometbft fuzz fuzz-consensus clean docker compose-up compose-down e2e e2e-ci

all: lint test build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/sixd

# A static binary (no cgo: it links nothing from the system), for images
# FROM scratch and for the e2e runner.
build-static:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/sixd-static ./cmd/sixd

# The binary a device runs: no simulator or plotting code (build tag
# device; cmd/sixd/device_build_test.go checks the dependency list), no cgo.
build-device:
	CGO_ENABLED=0 $(GO) build $(DEVICE_FLAGS) -o $(DEVICE_BIN) ./cmd/sixd

# The light node's own binary (cmd/sixd-light: a light node only, no full
# node, GossipSub, DHT or QUIC), static and stripped.
build-light:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/sixd-light ./cmd/sixd-light

# The device binary cross-compiled for CROSS_TARGETS, as
# bin/sixd-device-<os>-<arch>[v<arm>], and the light node's as
# bin/sixd-light-<os>-<arch>[v<arm>]; CI runs it. `ls -l bin/` shows the
# sizes (docs/BENCHMARKS.md, Device binary).
cross:
	@set -e; for t in $(CROSS_TARGETS); do \
	  os=$${t%%/*}; rest=$${t#*/}; arch=$${rest%%/*}; arm=""; \
	  if [ "$$rest" != "$$arch" ]; then arm=$${rest#*/}; fi; \
	  out=bin/sixd-device-$$os-$$arch$${arm:+v$$arm}; \
	  echo "== $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$arm $(GO) build $(DEVICE_FLAGS) -o $$out ./cmd/sixd; \
	  lout=bin/sixd-light-$$os-$$arch$${arm:+v$$arm}; \
	  echo "== $$lout"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags "-s -w" -o $$lout ./cmd/sixd-light; \
	done

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

# CometBFT CMT_VERSION into BENCH_CACHE/bin, skipped when it is there already.
cometbft:
	@if [ "$$($(CMT_BIN) version 2>/dev/null)" = "$(patsubst v%,%,$(CMT_VERSION))" ]; then \
	  echo "cometbft $(CMT_VERSION) already in $(CMT_BIN)"; \
	else \
	  echo "installing cometbft $(CMT_VERSION) into $(BENCH_CACHE)/bin"; \
	  GOBIN=$(BENCH_CACHE)/bin $(GO) install github.com/cometbft/cometbft/cmd/cometbft@$(CMT_VERSION); \
	fi

# The table of docs/BENCHMARKS.md, Side by side with CometBFT:
# make bench-compare RATES=1000,4000 DURATION=8s SLOT=1s
bench-compare: build cometbft
	$(GO) build -o bin/benchcompare ./cmd/benchcompare
	bin/benchcompare --cometbft $(CMT_BIN) --sixd $(BIN) --rates $(RATES) --duration $(DURATION) \
	  --slot $(SLOT) --tx-bytes $(TX_BYTES) --devnet-flags "$(BENCH_DEVNET_FLAGS)" --work $(BENCH_CACHE)/run $(BENCH_FLAGS)

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

# The container image: a static binary (no cgo, so nothing from the system)
# in an image FROM scratch; no base image is pulled.
docker: build-static
	mkdir -p build/docker
	cp bin/sixd-static build/docker/sixd
	docker build -t $(IMAGE) -f Dockerfile build/docker

# A network of separate containers (bootstrap, 3 authorities, a gateway, 2
# devices on networks of their own) from `sixd testnet` homes in TESTNET.
compose-up: docker
	@test -d $(TESTNET) || $(GO) run ./cmd/sixd testnet --out $(TESTNET) --bootstrap 1 --authorities 3 --gateways 2 --devices 2 --devices-private
	@if [ "$$(id -u)" = 0 ]; then chown -R 65532:65532 $(TESTNET); fi
	SIXD_TESTNET=$(abspath $(TESTNET)) SIXD_IMAGE=$(IMAGE) $$( [ "$$(id -u)" = 0 ] || echo SIXD_USER=$$(id -u):$$(id -g) ) \
	  $(COMPOSE) -f deploy/compose.yml -p sixdomain up -d

compose-down:
	SIXD_TESTNET=$(abspath $(TESTNET)) $(COMPOSE) -f deploy/compose.yml -p sixdomain down

# The container checks (deploy/compose_test.go): build the image, start the
# compose network, commit readings from every device, cut a node off and
# reconnect it. .ci/run runs them where Docker is present.
test-docker:
	SIXD_DOCKER_TESTS=1 $(GO) test -count=1 -timeout 15m -run Compose -v ./deploy/

# Run a fault manifest against real sixd processes (E2E_MODE=process) or
# containers (E2E_MODE=docker; auto picks docker where a daemon answers).
e2e: build-static
	$(GO) run ./e2e/cmd/sixd-e2e run $(MANIFEST) --sixd bin/sixd-static --out $(E2E_OUT) --mode $(E2E_MODE)

# The short manifest (under three minutes) that .ci/run runs.
e2e-ci:
	$(MAKE) e2e MANIFEST=e2e/manifests/ci.toml

clean:
	rm -rf bin build devnet-*.json sim-out e2e-out
