#!/usr/bin/env bash
# The test command: runs the whole test suite against a private PostgreSQL.
#
# Usage: scripts/test.sh [extra cargo test arguments]
#        e.g. scripts/test.sh -- --nocapture
#             scripts/test.sh --test ingest
#
# Starts (creating it on first use) the cluster "test" on 127.0.0.1:55433 with
# data in target/pg/test (see scripts/pg.sh), exports DATABASE_URL and runs
# `cargo test --all-targets --locked`, then the integration suite once more in the
# `single` write mode. The cluster is left running so the next
# run reuses it; stop it with `scripts/pg.sh stop test`.
# TXHOOK_TEST_PG_PORT overrides the port.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v cargo >/dev/null 2>&1 ||
    { echo "test.sh: cargo not found; install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

DATABASE_URL="$(bash scripts/pg.sh start test "${TXHOOK_TEST_PG_PORT:-55433}")"
export DATABASE_URL
echo "test.sh: DATABASE_URL=$DATABASE_URL" >&2

locked=(--locked)
[[ -f Cargo.lock ]] || locked=()
cargo test --all-targets ${locked[@]+"${locked[@]}"} "$@"
# The integration suite ran in the default write mode (batched); run it once more on the
# reference path.
if [[ $# -eq 0 ]]; then
    echo "test.sh: integration suite again with TXHOOK_WRITE_MODE=single" >&2
    TEST_WRITE_MODE=single cargo test ${locked[@]+"${locked[@]}"} --test api
fi
# The fault suite on its own cluster (scripts/faults.sh), reusing the debug build made above.
if [[ $# -eq 0 ]]; then
    echo "test.sh: fault suite (scripts/faults.sh, test profile)" >&2
    TXHOOK_FAULTS_PROFILE="test" bash scripts/faults.sh
fi
