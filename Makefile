# Every target runs on the Node 24 that `npm ci` installs into node_modules/.bin.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: all deps build test lint run run-broker bench clean generate verify-generate image envtest

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

# The gateway on a laptop: the broker-router with two sample MCP servers from a file registry.
run: build
	bash hack/run-local.sh

# Just the broker-router, on a registry file of your own: make run-broker CONFIG=path/to/config.yaml
run-broker: build
	node dist/cmd/broker-router/main.js --mcp-gateway-config $(CONFIG) --mcp-broker-public-address 127.0.0.1:8001

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

clean:
	rm -rf dist .cache
