# Every target runs on the Node 24 that `npm ci` installs into node_modules/.bin.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: all deps build test test-unit lint run run-broker bench bench-compare clean generate verify-generate image envtest

all: build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

build: deps
	tsc -p tsconfig.json

lint: deps
	eslint .
	tsc -p tsconfig.json --noEmit

# A real kube-apiserver for the operator's tests, built once from Go modules into .cache/envtest.
envtest:
	bash hack/envtest/build.sh

test: build envtest
	mocha

# The fast tier: in-process unit tests (no spawned process, no API server), in seconds.
test-unit: build
	mocha --no-config --timeout 5000 --exit 'dist/test/unit/**/*.test.js'

# The whole gateway on a laptop: a real API server with the CRDs, the controller, the
# broker-router on 127.0.0.1:8001 and sample MCP servers registered through resources.
run: build envtest
	node dist/hack/local/stack.js

# The lightest mode: the broker-router alone on a file registry, with two sample servers.
run-broker: build
	bash hack/run-broker.sh

# CRDs (config/crd) and docs/crd-reference.md from the zod schemas in internal/api.
generate: build
	node dist/hack/gen-crds.js

# Fails when the checked-in generated files are stale (CI runs it).
verify-generate: build
	node dist/hack/gen-crds.js --check

image:
	docker build -t ghcr.io/mcp-gateway/mcp-gateway:latest .

bench: build
	node dist/test/bench/run.js $(BENCH_ARGS)

# A/B of the load phase: BASE built in a throw-away worktree, base and this checkout run alternately
# ROUNDS times (default 3); BENCH_ARGS go to each run.js (e.g. --leg-seconds 4 --clients 8,32,128).
ROUNDS ?= 3
bench-compare: build
	@test -n "$(BASE)" || { echo "usage: make bench-compare BASE=<git ref> [ROUNDS=3] [BENCH_ARGS=...]" >&2; exit 2; }
	node dist/test/bench/compare.js --base $(BASE) --rounds $(ROUNDS) -- $(BENCH_ARGS)

clean:
	rm -rf dist .cache
