#!/usr/bin/env bash
# The container files' checks, runnable without a Docker engine:
#   hadolint on the Dockerfile, docker-compose.yml against the Compose Specification schema,
#   deploy/k8s/*.yaml against the Kubernetes API schemas (strict: unknown fields fail), and
#   tests/deploy/check_deploy.py (the files agree with each other and with txhook's settings).
#
# Usage: scripts/check-deploy.sh
#
# The tools come from PyPI (versions in tests/deploy/requirements.txt) into the virtualenv
# target/deploy-venv, created on first use and refreshed when the requirements change. Every
# check runs offline: the schemas ship inside the packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'check-deploy.sh: %s\n' "$*" >&2; }

REQ=tests/deploy/requirements.txt
VENV=target/deploy-venv
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || { say "$PY not found (Python 3.9+ is needed)"; exit 1; }

if ! cmp -s "$REQ" "$VENV/.requirements" 2>/dev/null; then
    say "installing $(grep -cv '^\s*\(#\|$\)' "$REQ") tools from PyPI into $VENV"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
    cp "$REQ" "$VENV/.requirements"
fi
BIN="$VENV/bin"

say "hadolint Dockerfile"
"$BIN/hadolint" --failure-threshold style Dockerfile

say "docker-compose.yml against the Compose Specification"
"$BIN/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml

say "deploy/k8s against the Kubernetes API schemas"
"$BIN/kubernetes-validate" --strict --quiet deploy/k8s/*.yaml

say "tests/deploy/check_deploy.py"
"$BIN/python" tests/deploy/check_deploy.py .
