#!/usr/bin/env bash
# deploy-flows.sh [FLOW.yml...]: saves each flow (by default every one in kestra/flows) to Kestra
# through its API, as the CI job that deploys them does (kestra/README.md, "Loading it"): POST
# creates a flow, and one Kestra already has is replaced with PUT (POST never replaces, PUT
# never creates). Every flow carries the label system.readOnly, so Kestra's UI shows it
# read-only: a change goes through this repository, not the editor.
# Needs KESTRA_URL, KESTRA_USER and KESTRA_PASSWORD (Kestra OSS: HTTP Basic); KESTRA_TENANT
# defaults to main. Prints one line per flow; a refused flow stops it with Kestra's reason.
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=local-dev/lib.sh
source "$here/../local-dev/lib.sh"

[[ -n ${KESTRA_URL:-} && -n ${KESTRA_USER:-} && -n ${KESTRA_PASSWORD:-} ]] ||
  die "set KESTRA_URL, KESTRA_USER and KESTRA_PASSWORD"
api=${KESTRA_URL%/}/api/v1/${KESTRA_TENANT:-main}/flows
(($#)) || set -- "$here"/flows/*.yml
answer=$(mktemp)
trap 'rm -f "$answer"' EXIT

# save METHOD URL FILE: the HTTP status of sending FILE; Kestra's answer is in $answer.
save() {
  curl -sS -o "$answer" -w '%{http_code}' -X "$1" -u "$KESTRA_USER:$KESTRA_PASSWORD" \
    -H 'content-type: application/x-yaml' --data-binary "@$3" "$2" ||
    die "Kestra at $KESTRA_URL does not answer"
}

for file in "$@"; do
  [[ -f $file ]] || die "$file: no such flow"
  id=$(awk '$1 == "id:" {print $2; exit}' "$file")
  namespace=$(awk '$1 == "namespace:" {print $2; exit}' "$file")
  [[ -n $id && -n $namespace ]] || die "$file: no top-level id and namespace"
  how=created
  code=$(save POST "$api" "$file")
  if [[ $code == 422 ]] && grep -q 'already exists' "$answer"; then
    how=replaced
    code=$(save PUT "$api/$namespace/$id" "$file")
  fi
  [[ $code == 200 ]] ||
    die "Kestra refused $file ($code): $(jq -r '.message // .' "$answer" 2>/dev/null | head -n 1)"
  echo "$namespace.$id: $how"
done
