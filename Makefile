# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 3000
export PORT

.PHONY: help run build tools lint test token

help:
	@echo "make run    serve the app at http://127.0.0.1:$(PORT)"
	@echo "make test   every check and test, installing what they need"
	@echo "make token ARGS='--sub alice --role approver'   mint a bearer token"

## Builds the Spin components for wasm32-wasip2.
build:
	cargo build --target wasm32-wasip2 --release -p backend

run: build
	scripts/run.sh

tools:
	scripts/install-tools.sh

lint: tools
	cargo fmt --all --check
	shellcheck scripts/*.sh .ci/run
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p backend --target wasm32-wasip2 -- -D warnings

test: lint build
	scripts/check-components.sh
	scripts/with-postgres.sh cargo test --workspace

token:
	@cargo run --quiet -p token -- $(ARGS)
