#!/usr/bin/env bash
# Prepares target/flask-peer-venv: a Python virtual environment with the pinned requirements of
# the Flask peer (../shared/peers/flask-ledger), which `make bench` measures the app against.
# Safe to run again: it does nothing when the environment already matches the requirements.
set -euo pipefail
cd "$(dirname "$0")/.."

peer=../shared/peers/flask-ledger
venv=target/flask-peer-venv
[[ -f $peer/requirements.txt ]] || { echo "flask-peer-venv: $peer is missing (see ../shared/README.md)" >&2; exit 1; }
if [[ -x $venv/bin/gunicorn ]] && cmp -s "$peer/requirements.txt" "$venv/requirements.txt"; then
  exit 0
fi
echo "flask-peer-venv: installing $peer/requirements.txt into $venv (PyPI)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$peer/requirements.txt"
cp "$peer/requirements.txt" "$venv/requirements.txt"
