#!/usr/bin/env bash
# The fault suite (tests/faults): the release binary under load while PostgreSQL is killed,
# txhook is SIGKILLed or SIGTERMed, two replicas race, and the database turns read-only.
#
# Usage: scripts/faults.sh [test name filter]
#
# Starts the private cluster "faults" on 127.0.0.1:15435 (data in target/pg/faults, see
# scripts/pg.sh; the scenarios kill and restart it), runs every scenario in both write modes
# (batched, then single), prints the figures as a table and stops the cluster.
# It always uses that private cluster, whatever DATABASE_URL says: it kills PostgreSQL.
# TXHOOK_FAULTS_PG_PORT overrides the port; TXHOOK_FAULTS_MODES the modes ("batched single").
# TXHOOK_FAULTS_PROFILE=test runs the debug build instead of the release one (scripts/test.sh
# does, to reuse the build it has just made instead of compiling everything again).
# The figures of the last run stay in target/faults/report.txt, each txhook's log beside it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v cargo >/dev/null 2>&1 ||
    { echo "faults.sh: cargo not found; install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

NAME=faults
PORT="${TXHOOK_FAULTS_PG_PORT:-15435}"
MODES="${TXHOOK_FAULTS_MODES:-batched single}"

PROFILE="${TXHOOK_FAULTS_PROFILE:-release}"
cargo_args=(--test faults)
case "$PROFILE" in
release) cargo_args+=(--release) ;;
test) ;;
*) echo "faults.sh: TXHOOK_FAULTS_PROFILE must be release or test" >&2; exit 2 ;;
esac
[[ ! -f Cargo.lock ]] || cargo_args+=(--locked)
echo "faults.sh: building ($PROFILE profile)" >&2
cargo test "${cargo_args[@]}" --no-run

DATABASE_URL="$(bash scripts/pg.sh start "$NAME" "$PORT")"
export DATABASE_URL FAULTS_PG_NAME="$NAME"
# Crash recovery after a kill can be slow on a loaded machine.
export TXHOOK_PG_READY_TIMEOUT="${TXHOOK_PG_READY_TIMEOUT:-120}"
trap 'bash scripts/pg.sh stop "$NAME" || true' EXIT
# Each scenario drops its database at its end; one that failed half-way may not have.
bash scripts/pg.sh sweep "$NAME" "txhook_test_%"
bash scripts/pg.sh sweep "$NAME" "faults_%" # their names before the shared test helper

mkdir -p target/faults
export FAULTS_REPORT="$PWD/target/faults/report.txt"
: >"$FAULTS_REPORT"

started=$(date +%s)
status=0
for mode in $MODES; do
    echo "faults.sh: scenarios with TXHOOK_WRITE_MODE=$mode" >&2
    FAULTS_WRITE_MODE="$mode" cargo test "${cargo_args[@]}" \
        -- --ignored --test-threads=1 --nocapture "$@" || status=$?
done

echo
echo "Fault suite, $PROFILE build: figures ($(($(date +%s) - started))s; lost must be 0; latency of the 200s)"
{
    echo "scenario|mode|acked|lost|503|conn err|hung|other|p50 ms|p99 ms|notes"
    sed -n 's/^FAULTS|//p' "$FAULTS_REPORT"
} | column -t -s '|'
if [[ $status -ne 0 ]]; then
    echo "faults.sh: a scenario failed (see above; txhook logs in target/faults/)" >&2
fi
exit "$status"
