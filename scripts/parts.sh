#!/usr/bin/env bash
# parts.sh [--plan] [KIND...]: fills target/parts with every part the suite reads from outside
# the repository (scripts/parts.lock): the SpinKube and Karmada CRDs and manifests, Spin 3.6.3's
# WIT, and the binaries of Spin and of the container-free Karmada control plane.
#
# Each part comes from ../shared when that folder is beside the checkout (as on the project's
# machines), else from its upstream source at the version k8s/platform/versions.env pins, and is
# checked either way: data against the hash in parts.lock, a release asset against the checksums
# its release publishes. An edited part is edited here, from the checked original.
#
#   --plan   prints each part's kind, path, source URL, expected hash and ../shared path.
#   KIND...  the parts of these kinds (data, edited, binary, build, local, peer),
#   PATH...  and these parts (a folder selects the parts under it); every part by default.
#
# PARTS_DIR (target/parts), SHARED_DIR (../shared) and PARTS_MIRROR (a base URL that replaces
# `https://` in every source, for a mirror) move it. Safe to run again: what is there and checks
# is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=k8s/platform/versions.env
source k8s/platform/versions.env

PARTS=${PARTS_DIR:-target/parts}
SHARED=${SHARED_DIR:-../shared}
MIRROR=${PARTS_MIRROR:-}
LOCK=scripts/parts.lock

# shellcheck source=local-dev/lib.sh
source local-dev/lib.sh

# A source with its ${VERSION} names filled in from versions.env.
expand() {
  local text=$1 name
  while [[ $text =~ \$\{([A-Z_]+)\} ]]; do
    name=${BASH_REMATCH[1]}
    [[ -n ${!name:-} ]] || die "k8s/platform/versions.env does not set $name"
    text=${text//"\${$name}"/${!name}}
  done
  printf '%s\n' "$text"
}

# Where a source URL is fetched from: itself, or its place on the mirror.
located() {
  local url=${1%%#*}
  if [[ -n $MIRROR ]]; then printf '%s/%s\n' "$MIRROR" "${url#https://}"; else printf '%s\n' "$url"; fi
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

fetch() {
  local url=$1 dest=$2 why
  if ! why=$(curl -fsSL --connect-timeout 10 --max-time 600 --retry 2 -o "$dest" "$url" 2>&1); then
    rm -f "$dest"
    why=${why##*$'\n'}
    die "cannot fetch $PART: no $SHARED/$SHARED_PATH, and $url failed (${why:-no answer})"
  fi
}

# The edits parts.lock names, each made to a checked upstream file.
# handler_types: the 0.2.0 incoming handler over the 0.2.6 request types, as Spin links it.
edit_handler_types() {
  local file=$1
  python3 - "$file" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
old = "  use types.{incoming-request, response-outparam};\n"
new = ("  // Changed from `use types.{...}` for the conformance check: a WASI 0.2 component exports the\n"
       "  // 0.2.0-named handler over the newest 0.2.x request types it imports, and Spin links that.\n"
       "  use wasi:http/types@0.2.6.{incoming-request, response-outparam};\n")
if old not in text:
    sys.exit("the incoming handler's use clause is not where the edit expects it")
open(path, "w").write(text.replace(old, new, 1))
PY
}

# Installs FILE as the part at DEST once its hash is WANT.
install_checked() {
  local file=$1 dest=$2 want=$3 got
  got=$(sha256_of "$file")
  if [[ $got != "$want" ]]; then
    rm -f "$file"
    die "$PART from $FROM has sha256 $got, not $want (scripts/parts.lock): refused"
  fi
  mv "$file" "$dest"
}

# A release asset: checked against its release's checksums, unpacked when it is an archive.
release_binary() {
  local source=$1 sums_url=$2 dest=$3 url asset member work
  url=$(located "$(expand "$source")")
  asset=$(basename "${url%%#*}")
  member=${source#*#}
  [[ $member == "$source" ]] && member=
  work=$(mktemp -d)
  FROM=$url
  fetch "$url" "$work/$asset"
  fetch "$(located "$(expand "$sums_url")")" "$work/sums"
  # A checksums file lists `HASH  NAME` lines; a .sha256 file may hold the bare hash.
  local want
  want=$(awk -v name="$asset" '$2 == name || $2 == "*" name {print $1} NF == 1 {print $1}' "$work/sums" | head -n1)
  [[ -n $want ]] || die "$PART: $sums_url lists no checksum for $asset"
  [[ $(sha256_of "$work/$asset") == "$want" ]] || die "$PART: $asset does not match its published checksum: refused"
  if [[ -n $member ]]; then
    tar -xzf "$work/$asset" -C "$work" "$member" || die "$PART: $asset holds no $member"
    mv "$work/$member" "$dest.partial"
  else
    mv "$work/$asset" "$dest.partial"
  fi
  chmod +x "$dest.partial"
  mv "$dest.partial" "$dest"
  rm -rf "$work"
}

# Go at the pinned version: from PATH, else the official archive checked against go.dev's list.
go_bin() {
  if command -v go >/dev/null && [[ $(go env GOVERSION) == "go$GO_VERSION" ]]; then
    command -v go
    return
  fi
  local root=$PARTS/go archive=go$GO_VERSION.linux-amd64.tar.gz
  if [[ ! -x $root/bin/go ]]; then
    local work
    work=$(mktemp -d)
    PART="Go $GO_VERSION (to build Karmada's controllers)" SHARED_PATH="(no Go)"
    FROM=https://go.dev/dl/$archive
    fetch "$(located "https://go.dev/dl/$archive")" "$work/$archive"
    fetch "$(located "https://go.dev/dl/?mode=json&include=all")" "$work/releases.json"
    local want
    want=$(python3 -c 'import json,sys; print(next(f["sha256"] for r in json.load(open(sys.argv[1])) for f in r["files"] if f["filename"] == sys.argv[2]))' \
      "$work/releases.json" "$archive") || die "go.dev lists no $archive; install Go $GO_VERSION: https://go.dev/doc/install"
    [[ $(sha256_of "$work/$archive") == "$want" ]] || die "$archive does not match go.dev's checksum: refused"
    mkdir -p "$PARTS" && tar -xzf "$work/$archive" -C "$PARTS"
    rm -rf "$work"
  fi
  printf '%s\n' "$root/bin/go"
}

# Karmada's controllers, built from their tag: Karmada publishes them as container images only.
built_binary() {
  local package=$1 dest=$2 src=$PARTS/src/karmada go
  command -v git >/dev/null || die "$PART: building Karmada's controllers needs git (apt-get install git)"
  go=$(go_bin)
  if [[ ! -d $src/.git ]]; then
    FROM=https://github.com/karmada-io/karmada.git
    git clone -q --depth 1 --branch "$KARMADA_VERSION" "$(located "$FROM")" "$src" 2>/dev/null ||
      die "cannot fetch $PART: no $SHARED/$SHARED_PATH, and cloning $FROM at $KARMADA_VERSION failed"
  fi
  [[ $(git -C "$src" rev-parse HEAD) == "$KARMADA_COMMIT"* ]] ||
    die "$PART: Karmada's $KARMADA_VERSION is not commit $KARMADA_COMMIT here: refused"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=vendor GOTOOLCHAIN=local "$go" build -trimpath -ldflags=-s \
    -o "$OLDPWD/$dest.partial" "$package") || die "$PART: go build $package failed"
  mv "$dest.partial" "$dest"
}

from_shared_xz() {
  local file=$1 dest=$2 want=$3
  [[ $(sha256_of "$file") == "$want" ]] || die "$file has another sha256 than scripts/parts.lock says: refused"
  xz -dc "$file" >"$dest.partial"
  chmod +x "$dest.partial"
  mv "$dest.partial" "$dest"
}

part() {
  local kind=$1 path=$2 sha=$3 source=$4 shared=$5 extra=$6
  local dest=$PARTS/$path shared_file=$SHARED/$shared
  PART=$path SHARED_PATH=$shared
  mkdir -p "$(dirname "$dest")"
  case $kind in
    data|edited)
      [[ -f $dest && $(sha256_of "$dest") == "$sha" ]] && return
      if [[ -f $shared_file ]]; then
        FROM=$shared_file
        cp "$shared_file" "$dest.partial"
      else
        FROM=$(located "$(expand "$source")")
        fetch "$FROM" "$dest.partial"
        if [[ $kind == edited ]]; then
          local upstream=${extra%%:*} edit=${extra#*:}
          [[ $(sha256_of "$dest.partial") == "$upstream" ]] ||
            { rm -f "$dest.partial"; die "$PART from $FROM is not the upstream file scripts/parts.lock names: refused"; }
          "edit_$edit" "$dest.partial"
        fi
      fi
      install_checked "$dest.partial" "$dest" "$sha"
      ;;
    binary|build)
      [[ -x $dest ]] && return
      if [[ -f $shared_file ]]; then
        from_shared_xz "$shared_file" "$dest" "$sha"
      elif [[ $kind == binary ]]; then
        release_binary "$source" "$extra" "$dest"
      else
        built_binary "$extra" "$dest"
      fi
      ;;
    local)
      [[ -x $dest || ($shared_file != *.xz && -f $dest) ]] && return
      [[ -f $shared_file ]] ||
        die "cannot fetch $PART: only $SHARED/$SHARED_PATH holds it (built from $(expand "$source") with the changes ../shared/kbox/README.md lists)"
      if [[ $shared_file == *.xz ]]; then
        from_shared_xz "$shared_file" "$dest" "$sha"
      else
        cp "$shared_file" "$dest.partial"
        install_checked "$dest.partial" "$dest" "$sha"
      fi
      ;;
    peer)
      if [[ -d $shared_file ]]; then
        rm -rf "$dest" && cp -r "$shared_file" "$dest"
      else
        echo "parts: no $shared_file: make bench will leave out the Flask peer (only ../shared holds it)" >&2
      fi
      ;;
    *) die "scripts/parts.lock: unknown kind $kind" ;;
  esac
}

plan=false
kinds=()
paths=()
for arg in "$@"; do
  case $arg in
    --plan) plan=true ;;
    data|edited|binary|build|local|peer) kinds+=("$arg") ;;
    -*) die "usage: scripts/parts.sh [--plan] [data|edited|binary|build|local|peer ...] [PATH ...]" ;;
    *) paths+=("${arg%/}") ;;
  esac
done

# A part is selected by its kind or its path; with neither named, every part is.
selected() {
  local kind=$1 path=$2 wanted
  ((${#kinds[@]} + ${#paths[@]})) || return 0
  [[ " ${kinds[*]} " == *" $kind "* ]] && return 0
  for wanted in "${paths[@]}"; do
    [[ $path == "$wanted" || $path == "$wanted"/* ]] && return 0
  done
  return 1
}

count=0
while read -r kind path sha source shared extra; do
  [[ -z $kind || $kind == \#* ]] && continue
  selected "$kind" "$path" || continue
  if $plan; then
    case $kind in
      binary) check="checksums: $(expand "$extra")" ;;
      build) check="built from $(expand "$source") $extra at commit $KARMADA_COMMIT with Go $GO_VERSION" ;;
      peer) check="only in ../shared" ;;
      local) check="only in ../shared (sha256 $sha)" ;;
      *) check="sha256 $sha" ;;
    esac
    printf '%s\t%s\t%s\t%s\t../shared/%s\n' "$kind" "$path" "$(expand "$source")" "$check" "$shared"
  else
    part "$kind" "$path" "$sha" "$source" "$shared" "$extra"
  fi
  count=$((count + 1))
done <"$LOCK"

# Ours, not upstream's: the world a component must fit to run on Spin 3.6.
if selected data spin-wit/world.wit; then
  if $plan; then
    printf 'repo\tspin-wit/world.wit\twit/spin-3.6/world.wit\t-\t-\n'
  else
    mkdir -p "$PARTS/spin-wit" && cp wit/spin-3.6/world.wit "$PARTS/spin-wit/world.wit"
  fi
fi
$plan || echo "parts: $count parts in $PARTS" >&2
