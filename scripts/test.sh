#!/usr/bin/env bash
# The test command: runs the whole test suite against PostgreSQL.
#
# Usage: scripts/test.sh [extra cargo test arguments]
#        scripts/test.sh                       # everything: all targets of the workspace, the
#                                              # API suite again in `single` write mode, the
#                                              # fault suite
#        scripts/test.sh --test api            # one test binary (api, cli, e2e_mock,
#                                              # bench_smoke, listen; faults: scripts/faults.sh)
#        scripts/test.sh --test api content::  # one file of the API suite (a name filter)
#        scripts/test.sh -p txhook-devtools    # one package of the workspace (txhook,
#                                              # txhook-core, txhook-devtools)
#        scripts/test.sh -- --nocapture
#
# The database: when DATABASE_URL is set, the tests use that server (the URL of a role that
# may create databases; each test creates its own and drops it at the end) and no private
# cluster is started; the fault suite, which kills PostgreSQL, is then left out (run
# scripts/faults.sh for it: it starts a private cluster of its own). Otherwise it starts
# (creating it on first use) the private cluster "test" on 127.0.0.1:15433 with data in
# target/pg/test (see scripts/pg.sh), drops the databases earlier runs' crashed tests left
# behind, and exports its DATABASE_URL. The cluster is left running so the next run reuses
# it; stop it with `scripts/pg.sh stop test`. TXHOOK_TEST_PG_PORT overrides the port.
#
# The console's browser tests need Chromium and chromedriver (Debian's `chromium` and
# `chromium-driver`): installed with apt-get (sudo when not root) when they are missing and
# the tests to run include them. TXHOOK_CHROMIUM / TXHOOK_CHROMEDRIVER point at other
# binaries; TXHOOK_SKIP_BROWSER=1 skips those tests (they fail without a browser otherwise).
#
# Tests run over the whole workspace (the txhook package and crates/*) unless the arguments
# name packages (-p, --package).
#
# With no arguments it runs `cargo test --workspace --all-targets --locked`, checks that
# schema.sql matches migrations/ (scripts/schema.sh --check), runs the API suite once more in
# the `single` write mode, then the fault suite (scripts/faults.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'test.sh: %s\n' "$*" >&2; }

command -v cargo >/dev/null 2>&1 ||
    { say "cargo not found; install Rust with rustup (https://rustup.rs)"; exit 1; }

# The console's browser tests (tests/console.rs) drive Debian's headless Chromium through
# chromedriver. When the tests to run include them and either is missing, install both
# (`chromium chromium-driver`) the way scripts/pg.sh installs PostgreSQL. TXHOOK_CHROMIUM and
# TXHOOK_CHROMEDRIVER name other binaries; TXHOOK_SKIP_BROWSER=1 skips those tests (and this).
browser_tests_selected() {
    local arg prev="" packages=0 root=0
    [[ $# -eq 0 ]] && return 0
    # Packages named, and the txhook package (the browser tests' home) not among them.
    for arg in "$@"; do
        [[ $arg == -- ]] && break
        case "$arg" in
        -p | --package) packages=1 ;;
        --package=txhook | -ptxhook) packages=1 root=1 ;;
        --package=* | -p?*) packages=1 ;;
        --workspace | --all) root=1 ;;
        esac
        [[ ($prev == -p || $prev == --package) && $arg == txhook ]] && root=1
        prev="$arg"
    done
    ((packages && !root)) && return 1
    prev=""
    for arg in "$@"; do
        [[ $arg == -- ]] && break
        case "$arg" in
        --all-targets | --tests | --test=console) return 0 ;;
        esac
        [[ $prev == --test && $arg == console ]] && return 0
        prev="$arg"
    done
    # No target named: cargo runs them all.
    for arg in "$@"; do
        [[ $arg == -- ]] && break
        case "$arg" in
        --test | --test=* | --lib | --bin | --bin=* | --bins | --example* | --bench* | --doc) return 1 ;;
        esac
    done
    return 0
}

have_browser() {
    { [[ -n ${TXHOOK_CHROMIUM:-} ]] || command -v chromium >/dev/null 2>&1; } &&
        { [[ -n ${TXHOOK_CHROMEDRIVER:-} ]] || command -v chromedriver >/dev/null 2>&1; }
}

install_browser() {
    local -a sudo=()
    command -v apt-get >/dev/null 2>&1 || {
        say "chromium/chromedriver not found and apt-get is not available: install Chromium and"
        say "its chromedriver (or set TXHOOK_CHROMIUM and TXHOOK_CHROMEDRIVER), or set"
        say "TXHOOK_SKIP_BROWSER=1 to skip the console's browser tests"
        exit 1
    }
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || {
            say "chromium/chromedriver not found; installing them needs root. Run:"
            say "apt-get install chromium chromium-driver (as root), or set TXHOOK_SKIP_BROWSER=1"
            exit 1
        }
        sudo=(sudo)
    fi
    say "chromium or chromedriver not found; installing them: apt-get install chromium chromium-driver"
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update >&2 ||
        { say "apt-get update failed"; exit 1; }
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends -o DPkg::Lock::Timeout=300 chromium chromium-driver >&2 ||
        { say "apt-get install chromium chromium-driver failed"; exit 1; }
    have_browser || { say "chromium was installed but chromium or chromedriver is not on PATH"; exit 1; }
}

if [[ ${TXHOOK_SKIP_BROWSER:-} == 1 ]]; then
    say "TXHOOK_SKIP_BROWSER=1: the console's browser tests are skipped"
elif browser_tests_selected "$@" && ! have_browser; then
    install_browser
fi

private=0
if [[ -n ${DATABASE_URL:-} ]]; then
    say "using DATABASE_URL from the environment (no private cluster)"
else
    DATABASE_URL="$(bash scripts/pg.sh start test "${TXHOOK_TEST_PG_PORT:-15433}")"
    private=1
    say "DATABASE_URL=$DATABASE_URL"
    # Tests drop their databases when they end; one that crashed (or was killed) may have
    # left its database behind. Nobody else uses this cluster.
    bash scripts/pg.sh sweep test "txhook_test_%"
fi
export DATABASE_URL

locked=(--locked)
[[ -f Cargo.lock ]] || locked=()
# The whole workspace, unless the arguments name packages.
packages=(--workspace)
for arg in "$@"; do
    case "$arg" in
    --) break ;;
    -p | -p?* | --package | --package=* | --workspace | --all)
        packages=()
        break
        ;;
    esac
done
# Every target, unless the arguments pick some (`--test api`): cargo would add them all again.
targets=(--all-targets)
for arg in "$@"; do
    case "$arg" in
    --) break ;;
    --test | --test=* | --tests | --lib | --bin | --bin=* | --bins | --example* | --bench* | --doc | --all-targets)
        targets=()
        break
        ;;
    esac
done
cargo test ${packages[@]+"${packages[@]}"} ${targets[@]+"${targets[@]}"} ${locked[@]+"${locked[@]}"} "$@"
[[ $# -eq 0 ]] || exit 0

say "schema.sql against migrations/ (scripts/schema.sh --check)"
bash scripts/schema.sh --check

# The integration suite ran in the default write mode (batched); run it once more on the
# reference path.
say "integration suite again with TXHOOK_WRITE_MODE=single"
TEST_WRITE_MODE=single cargo test ${locked[@]+"${locked[@]}"} --test api
# The fault suite on its own cluster (scripts/faults.sh), reusing the debug build made above.
if ((private)); then
    say "fault suite (scripts/faults.sh, test profile)"
    TXHOOK_FAULTS_PROFILE="test" bash scripts/faults.sh
else
    say "fault suite left out: it kills PostgreSQL, so it needs a private cluster of its own;"
    say "run scripts/faults.sh for it"
fi
