#!/usr/bin/env bash
# Installs what `make test` needs and a fresh machine lacks: the wasm32-wasip2 target, rustfmt
# and clippy, wasm-tools, shellcheck, etcd and an OCI registry (the Karmada control plane and
# the pipeline tests), Prometheus and promtool (the alert and dashboard tests), the parts the
# suite reads from outside the repository (scripts/parts.sh: Spin 3.6.3, its WIT, the CRDs, the
# Karmada control plane's binaries and a SpinKube node's, into target/parts), what a real node
# needs from Debian (runc, CNI plugins, iptables, socat, dnsmasq), and for the console's browser
# tests Debian's Chromium, Node.js, playwright-core and axe-core.
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_TOOLS_VERSION=1.263.0

# rust-toolchain.toml names the target and components; rustup installs them on first use.
rustup show active-toolchain >/dev/null
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt

# wasm-tools builds while the rest downloads: a build is CPU, the rest mostly network. Only its
# `component` commands (the scripts use `component wit` and `component targets`): the default
# features add fuzzers, mutators and demanglers the scripts never run, most of the build.
wasm_tools=
if ! wasm-tools --version 2>/dev/null | grep -q "^wasm-tools $WASM_TOOLS_VERSION"; then
  echo "install-tools: building wasm-tools $WASM_TOOLS_VERSION, its component commands" >&2
  cargo install --quiet --locked wasm-tools --version "$WASM_TOOLS_VERSION" \
    --no-default-features --features component &
  wasm_tools=$!
  # Whatever below fails, the build stops with the script.
  trap '[[ -z $wasm_tools ]] || kill "$wasm_tools" 2>/dev/null || true' EXIT
fi

missing=()
command -v xz >/dev/null || missing+=(xz-utils)
command -v curl >/dev/null || missing+=(curl)
command -v git >/dev/null || missing+=(git)
# git checks release tags' SSH signatures with ssh-keygen (relctl verify-tag).
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v etcd >/dev/null || missing+=(etcd-server)
command -v promtool >/dev/null || missing+=(prometheus)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
# The Kestra stand-in checks Schedule time zones against the tz database, as Java does.
[[ -d /usr/share/zoneinfo/Europe ]] || missing+=(tzdata)
# The read model's Redis for the clusters' pods in the tests (k8s/database/kv.yaml's).
command -v redis-server >/dev/null || missing+=(redis-server)
# relctl's installed man pages and completions, read as people do (man, a terminal from script).
command -v man >/dev/null || missing+=(man-db)
command -v script >/dev/null || missing+=(bsdutils)
# make bench profiles the runtimes under load (bench/runner/src/perf.rs).
command -v perf >/dev/null || missing+=(linux-perf)
# The local-dev scripts read JSON with jq and render manifests with envsubst.
command -v jq >/dev/null || missing+=(jq)
command -v envsubst >/dev/null || missing+=(gettext-base)
# A real SpinKube node per member (local-dev/nodes.sh): the runc its sandboxes need, its pods'
# network, kube-proxy's tools, the forwarders and the cluster DNS stand-in.
command -v runc >/dev/null || missing+=(runc)
[[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
command -v iptables >/dev/null || missing+=(iptables)
command -v conntrack >/dev/null || missing+=(conntrack)
command -v socat >/dev/null || missing+=(socat)
command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "install-tools: installing ${missing[*]} from Debian's packages" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  # Packages that start a system service on install: the tests start their own on free ports.
  systemctl disable --now redis-server >/dev/null 2>&1 || true
fi

# Spin 3.6.3 (what SpinKube's shim embeds) for the end-to-end tests, its WIT for the world
# checks, the CRDs and the control plane's binaries: from ../shared, else from upstream.
scripts/parts.sh

# playwright-core drives the system Chromium (it downloads no browser of its own); axe-core
# audits each page's accessibility in it. Both as package-lock.json pins them.
# shellcheck disable=SC2016 # JavaScript's template literal, not the shell's.
stale=$(node -e '
  const deps = require("./package.json").devDependencies;
  const have = (name) => { try { return require(`./node_modules/${name}/package.json`).version; } catch { return ""; } };
  console.log(Object.keys(deps).filter((name) => have(name) !== deps[name]).join(" "));
')
if [[ -n $stale ]]; then
  echo "install-tools: installing $stale from the npm registry" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

if [[ -n $wasm_tools ]]; then
  built=0
  wait "$wasm_tools" || built=$?
  wasm_tools=
  ((built == 0)) || { echo "install-tools: building wasm-tools failed (above)" >&2; exit 1; }
fi
