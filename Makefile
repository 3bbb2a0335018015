# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 3000
export PORT

APP := -p backend -p frontend
COMPONENTS := $(APP) -p outbound-probe -p hello -p cost-probe

.PHONY: help run components build tools lint test bench token control-plane clusters backup restore playground install-relctl

help:
	@echo "make run    serve the app at http://127.0.0.1:$(PORT)"
	@echo "make test   every check and test, installing what they need"
	@echo "make bench  throughput, latency, start-up, memory and size figures"
	@echo "make backup          a consistent copy of make run's ledger in backups/, while it serves"
	@echo "make restore BACKUP=backups/ledger-….db   put one back (stop make run first)"
	@echo "make playground      the whole system without containers: Karmada, three clusters serving the app (local-dev/)"
	@echo "make control-plane   a real Karmada control plane on loopback, no containers (local-dev/)"
	@echo "make clusters        Kind clusters with SpinKube and Karmada (needs Docker or Podman)"
	@echo "make token ARGS='--sub alice --role approver'   mint a bearer token"
	@echo "make install-relctl [PREFIX=/usr/local]   relctl, its shell completions and man pages"

## The Spin components (wasm32-wasip2), and the local host that `make run` falls back on.
components:
	cargo build --target wasm32-wasip2 --release $(COMPONENTS)

build: components
	cargo build --profile host -p spin-host

run: build
	scripts/run.sh

tools:
	scripts/install-tools.sh

lint: tools
	cargo fmt --all --check
	shellcheck -x scripts/*.sh k8s/platform/*.sh k8s/database/*.sh local-dev/*.sh kestra/*.sh .ci/run
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target wasm32-wasip2 $(COMPONENTS) -- -D warnings
	cargo clippy --target wasm32-wasip2 -p p3-probe -- -D warnings  # alone: its SDK feature stays its own

# No `host` build of spin-host: the tests run the one the test build makes (test-lanes.sh), so
# wasmtime is built once, not twice (7 minutes on two cores).
test: lint components
	scripts/check-components.sh
	scripts/python-venv.sh target/contract-venv components/backend/tests/contract/requirements.txt
	# --tests: every test target, and no doc-test runs (no crate here has a doc test; each run
	# would cost a rustdoc pass over its crate). Built once, then run in two lanes at once, each
	# on a control plane of its own: the pipeline's, and the rest beside it (scripts/test-lanes.sh).
	cargo test --workspace --tests --no-run --message-format=json-render-diagnostics > target/test-binaries.json
	scripts/with-postgres.sh scripts/with-registry.sh scripts/with-control-plane.sh scripts/test-lanes.sh target/test-binaries.json

bench: tools build
	[[ ! -f target/parts/peers/flask-ledger/requirements.txt ]] || \
	  scripts/python-venv.sh target/flask-peer-venv target/parts/peers/flask-ledger/requirements.txt
	cargo build --profile host -p bench
	cargo build --target wasm32-wasip2 --release -p p3-probe  # alone: its SDK feature stays its own
	scripts/with-postgres.sh target/host/bench

## The embedded SQLite ledger of `make run` (k8s/README.md, "Backups", for PostgreSQL).
SQLITE_DB ?= .spin/sqlite_db.db
backup:
	scripts/sqlite-backup.sh backup "$(SQLITE_DB)"

restore:
	@[[ -n "$(BACKUP)" ]] || { echo "make restore: name the backup, e.g. make restore BACKUP=backups/ledger-20261204T120000Z.db" >&2; exit 2; }
	scripts/sqlite-backup.sh restore "$(BACKUP)" "$(SQLITE_DB)"

playground: tools components
	local-dev/playground.sh up

control-plane:  # then the SpinKube status stand-in: every SpinApp ready, nothing runs
	local-dev/control-plane.sh up
	cargo run -q -p spinkube-standin -- ready-without-running \
	  --kubeconfigs $${CONTROL_PLANE_DIR:-target/control-plane}/kubeconfig --members staging,prod-east,prod-west

clusters:
	local-dev/up.sh

token:
	@cargo run --quiet -p token -- $(ARGS)

## relctl for people at a shell: `relctl releases`, `relctl release 1.4.0`, … (tools/relctl).
PREFIX ?= /usr/local
install-relctl:
	cargo build --profile host -p relctl
	scripts/install-relctl.sh "$(PREFIX)" target/host/relctl
