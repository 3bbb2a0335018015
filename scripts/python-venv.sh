#!/usr/bin/env bash
# Usage: scripts/python-venv.sh VENV REQUIREMENTS
# Prepares the Python virtual environment VENV (under target/) with the pinned REQUIREMENTS
# from PyPI: the Flask peer that `make bench` measures against, and the property-based API
# tester that `make test` runs. Safe to run again: it does nothing when VENV already matches.
set -euo pipefail
cd "$(dirname "$0")/.."

(($# == 2)) || { echo "usage: scripts/python-venv.sh VENV REQUIREMENTS" >&2; exit 2; }
venv=$1 requirements=$2
[[ -f $requirements ]] || { echo "python-venv: $requirements is missing" >&2; exit 1; }
if [[ -f $venv/requirements.txt ]] && cmp -s "$requirements" "$venv/requirements.txt"; then
  exit 0
fi
echo "python-venv: installing $requirements into $venv (PyPI)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$venv/requirements.txt"
