# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 3000
export PORT

COMPONENTS := -p backend -p frontend -p outbound-probe -p hello

.PHONY: help run build tools lint test bench token

help:
	@echo "make run    serve the app at http://127.0.0.1:$(PORT)"
	@echo "make test   every check and test, installing what they need"
	@echo "make bench  throughput, latency, start-up, memory and size figures"
	@echo "make token ARGS='--sub alice --role approver'   mint a bearer token"

## The Spin components (wasm32-wasip2) and the local host.
build:
	cargo build --target wasm32-wasip2 --release $(COMPONENTS)
	cargo build --profile host -p spin-host

run: build
	scripts/run.sh

tools:
	scripts/install-tools.sh

lint: tools
	cargo fmt --all --check
	shellcheck -x scripts/*.sh k8s/platform/*.sh .ci/run
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target wasm32-wasip2 $(COMPONENTS) -- -D warnings

test: lint build
	scripts/check-components.sh
	scripts/with-postgres.sh cargo test --workspace

bench: tools build
	scripts/flask-peer-venv.sh
	cargo build --profile host -p bench
	scripts/with-postgres.sh target/host/bench

token:
	@cargo run --quiet -p token -- $(ARGS)
