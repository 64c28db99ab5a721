#!/usr/bin/env bash
# The run command: txhook against a private development PostgreSQL.
#
# Usage: scripts/dev.sh [extra `txhook serve` arguments]
#
# The database: DATABASE_URL when it is set (your own PostgreSQL, or the Compose
# one); otherwise it starts (creating it on first use) the private cluster "dev" on
# 127.0.0.1:15432 with data in target/pg/dev (see scripts/pg.sh; it keeps running
# after txhook exits: `scripts/pg.sh stop dev`; TXHOOK_DEV_PG_PORT overrides the
# port). It exports DATABASE_URL, TXHOOK_SHARED_KEY and TXHOOK_ADMIN_TOKEN, then runs `cargo run --release -- serve`, which applies
# the migrations itself. Unless already set in the environment, the key and
# token are generated once and kept in target/dev-shared-key and
# target/dev-admin-token (mode 600); delete those files to rotate them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'dev.sh: %s\n' "$*" >&2; }

command -v cargo >/dev/null 2>&1 ||
    { say "cargo not found; install Rust with rustup (https://rustup.rs)"; exit 1; }

# dev_secret <file>: print the secret kept in <file>, creating it first
# (32 random bytes, hex) if missing or malformed.
dev_secret() {
    local file="$1" value=""
    [[ -f $file ]] && value="$(tr -d '[:space:]' <"$file")"
    if ! [[ $value =~ ^[0-9a-f]{64}$ ]]; then
        value="$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"
        [[ $value =~ ^[0-9a-f]{64}$ ]] || { say "could not read /dev/urandom"; exit 1; }
        (umask 077 && printf '%s\n' "$value" >"$file.tmp")
        mv -f "$file.tmp" "$file"
        say "generated a new secret in $file"
    fi
    chmod 600 "$file"
    printf '%s\n' "$value"
}

db_src="environment"
if [[ -z ${DATABASE_URL:-} ]]; then
    DATABASE_URL="$(bash scripts/pg.sh start dev "${TXHOOK_DEV_PG_PORT:-15432}")"
    db_src="private cluster target/pg/dev"
fi
export DATABASE_URL

mkdir -p target
key_src="environment"
if [[ -z ${TXHOOK_SHARED_KEY:-} ]]; then
    TXHOOK_SHARED_KEY="$(dev_secret target/dev-shared-key)"
    key_src="target/dev-shared-key"
fi
export TXHOOK_SHARED_KEY
token_src="environment"
if [[ -z ${TXHOOK_ADMIN_TOKEN:-} ]]; then
    TXHOOK_ADMIN_TOKEN="$(dev_secret target/dev-admin-token)"
    token_src="target/dev-admin-token"
fi
export TXHOOK_ADMIN_TOKEN
# A dev server with a printed token listens on loopback unless told otherwise.
export TXHOOK_LISTEN="${TXHOOK_LISTEN:-127.0.0.1:8080}"

cat >&2 <<MSG

  DATABASE_URL=$DATABASE_URL   (from $db_src)
  TXHOOK_SHARED_KEY=$TXHOOK_SHARED_KEY   (from $key_src)
  TXHOOK_ADMIN_TOKEN=$TXHOOK_ADMIN_TOKEN   (from $token_src)

  txhook will listen on http://$TXHOOK_LISTEN once built and migrated.
  Send a signed test event from another terminal: see README.md,
  "Sending a signed callback by hand".

MSG

exec cargo run --release -- serve "$@"
