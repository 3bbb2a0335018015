#!/usr/bin/env bash
# put-settings.sh [FILE]: stores each NAME=VALUE line of FILE (default kestra/settings.example)
# in Kestra's KV store, namespace automatizacion, where the flows read them with kv('NAME')
# (kestra/README.md, "Settings"), as the CI job that deploys the flows does. true, false and
# whole numbers go in as such; anything else as a JSON string, since Kestra reads the body as
# Ion (JSON's superset). Blank lines and # comments are skipped.
# Needs KESTRA_URL, KESTRA_USER and KESTRA_PASSWORD (Kestra OSS: HTTP Basic); KESTRA_TENANT
# defaults to main. Prints one line per setting; a refused one stops it with Kestra's reason.
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=local-dev/lib.sh
source "$here/../local-dev/lib.sh"

[[ -n ${KESTRA_URL:-} && -n ${KESTRA_USER:-} && -n ${KESTRA_PASSWORD:-} ]] ||
  die "set KESTRA_URL, KESTRA_USER and KESTRA_PASSWORD"
file=${1:-$here/settings.example}
[[ -f $file ]] || die "$file: no such settings file"
api=${KESTRA_URL%/}/api/v1/${KESTRA_TENANT:-main}/namespaces/automatizacion/kv
answer=$(mktemp)
trap 'rm -f "$answer"' EXIT

line_number=0
while IFS= read -r line || [[ -n $line ]]; do
  line_number=$((line_number + 1))
  [[ -z ${line//[[:space:]]/} || $line =~ ^[[:space:]]*# ]] && continue
  [[ $line == *=* ]] || die "$file:$line_number: not NAME=VALUE"
  name=${line%%=*} value=${line#*=}
  [[ $name =~ ^[a-zA-Z0-9][a-zA-Z0-9._-]*$ ]] || die "$file:$line_number: $name is not a KV key"
  if [[ $value =~ ^(true|false|-?[0-9]+)$ ]]; then
    body=$value
  else
    body=$(jq -Rn --arg v "$value" '$v')
  fi
  code=$(curl -sS -o "$answer" -w '%{http_code}' -X PUT -u "$KESTRA_USER:$KESTRA_PASSWORD" \
    -H 'content-type: text/plain' --data-binary "$body" "$api/$name") ||
    die "Kestra at $KESTRA_URL does not answer"
  [[ $code == 200 ]] ||
    die "Kestra refused $name ($code): $(jq -r '.message // .' "$answer" 2>/dev/null | head -n 1)"
  echo "automatizacion/$name: set"
done <"$file"
