#!/usr/bin/env bash
# Runs the release binary the way the container image runs it, without a Docker engine:
#
#   - the binary alone, copied to <tmp>/usr/local/bin/txhook, outside the repository;
#   - working directory an empty <tmp>/srv/txhook (no config.toml: environment only);
#   - as the image's numeric non-root user 10001:10001 (through setpriv when run as root;
#     as the current user otherwise);
#   - with only the environment of .env.example, the image's ENV (TXHOOK_LISTEN) and PATH,
#     and DATABASE_URL pointing at a private cluster (scripts/pg.sh start image 15436).
#
# Then it checks what the image promises: `txhook healthcheck` (the image's HEALTHCHECK)
# exits 0 once ready, the process runs as 10001, a signed callback from `txhook send` is
# stored (and its retry is a duplicate) and can be read back, nothing was written to the
# working directory, the binary needs no library that debian:12-slim lacks, and SIGTERM ends
# the process cleanly (exit 0) within the 30 s grace period.
#
# Usage: scripts/run-like-image.sh
# Environment: RUN_LIKE_IMAGE_PORT (default 8080, the image's port) when 8080 is taken;
#              TXHOOK_IMAGE_PG_PORT (default 15436).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'run-like-image.sh: %s\n' "$*" >&2; }
fail() {
    say "FAIL: $*"
    if [[ -n ${TMP:-} && -f $TMP/serve.log ]]; then
        say "last lines of the server's log:"
        tail -n 40 "$TMP/serve.log" >&2 || true
    fi
    exit 1
}

PORT="${RUN_LIKE_IMAGE_PORT:-8080}"
IMAGE_UID=10001
IMAGE_GID=10001
PASSED=0
ok() {
    PASSED=$((PASSED + 1))
    say "ok: $*"
}

command -v cargo >/dev/null 2>&1 || fail "cargo not found"
command -v curl >/dev/null 2>&1 || fail "curl not found (apt-get install curl)"

say "cargo build --release --locked --bin txhook"
cargo build --release --locked --bin txhook

# --- the image's file system: the binary, an empty working directory -------------------
TMP="$(mktemp -d /tmp/txhook-image.XXXXXX)"
SERVER_PID=""
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
chmod 755 "$TMP"
install -d -m 0755 "$TMP/usr/local/bin" "$TMP/srv/txhook"
install -m 0755 target/release/txhook "$TMP/usr/local/bin/txhook"
WORKDIR="$TMP/srv/txhook"

# Only the C runtime that every Debian slim image has (the binary carries its TLS roots).
if command -v readelf >/dev/null 2>&1; then
    needed="$(readelf -d "$TMP/usr/local/bin/txhook" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')"
    for lib in $needed; do
        case "$lib" in
        libc.so.6 | libm.so.6 | libgcc_s.so.1 | libpthread.so.0 | libdl.so.2 | librt.so.1 | ld-linux-*.so.*) ;;
        *) fail "the binary needs $lib, which debian:12-slim does not have" ;;
        esac
    done
    ok "needs only $(echo "$needed" | tr '\n' ' ')"
fi

# --- the environment: .env.example, the image's ENV, the database ----------------------
say "scripts/pg.sh start image ${TXHOOK_IMAGE_PG_PORT:-15436}"
BASE_URL="$(bash scripts/pg.sh start image "${TXHOOK_IMAGE_PG_PORT:-15436}")"
# A fresh database each run: the image's first start on an empty database.
DB=txhook_image
PSQL="$(command -v psql || printf "%s\n" /usr/lib/postgresql/*/bin/psql | sort -V | tail -n1)"
[[ -x $PSQL ]] || fail "psql not found"
"$PSQL" -X -q -v ON_ERROR_STOP=1 "$BASE_URL" \
    -c "set client_min_messages = warning" -c "drop database if exists $DB with (force)" -c "create database $DB" >/dev/null ||
    fail "could not create database $DB"
DATABASE_URL="${BASE_URL%/*}/$DB"

ENV=()
while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    [[ $line =~ ^[A-Z_][A-Z0-9_]*= ]] || fail ".env.example: not KEY=value: $line"
    # serve refuses the example's placeholder secrets: real ones come below, as from .env.
    [[ $line =~ ^(TXHOOK_SHARED_KEY|TXHOOK_ADMIN_TOKEN)= ]] && continue
    ENV+=("$line")
done <.env.example
random_secret() { head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }
ADMIN_TOKEN="$(random_secret)"
ENV+=(
    "PATH=$TMP/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "HOME=/nonexistent"
    "TXHOOK_LISTEN=0.0.0.0:$PORT" # the image's ENV (and .env.example's value)
    "DATABASE_URL=$DATABASE_URL"
    "TXHOOK_SHARED_KEY=$(random_secret)"
    "TXHOOK_ADMIN_TOKEN=$ADMIN_TOKEN"
)

AS_USER=()
if [[ $(id -u) -eq 0 ]]; then
    command -v setpriv >/dev/null 2>&1 || fail "setpriv not found (util-linux)"
    AS_USER=(setpriv "--reuid=$IMAGE_UID" "--regid=$IMAGE_GID" --clear-groups --)
else
    say "not root: running as $(id -u) instead of $IMAGE_UID"
fi

# like_image CMD...: a command as `docker exec` into the container would run it.
like_image() {
    (cd "$WORKDIR" && env -i "${ENV[@]}" ${AS_USER[@]+"${AS_USER[@]}"} "$@")
}

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    fail "port $PORT is taken; set RUN_LIKE_IMAGE_PORT to a free one"
fi

# --- ENTRYPOINT ["txhook"] CMD ["serve"] -----------------------------------------------
say "txhook serve in $WORKDIR (log: $TMP/serve.log)"
(cd "$WORKDIR" && exec env -i "${ENV[@]}" ${AS_USER[@]+"${AS_USER[@]}"} txhook serve) \
    >"$TMP/serve.log" 2>&1 &
SERVER_PID=$!

# HEALTHCHECK CMD ["txhook", "healthcheck", ...], every second for up to 90 s.
deadline=$((SECONDS + 90))
until like_image txhook healthcheck --url "http://127.0.0.1:$PORT/readyz" 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || fail "txhook serve exited before it was ready"
    ((SECONDS < deadline)) || fail "not ready after 90 s"
    sleep 1
done
ok "txhook healthcheck exits 0 (ready, migrations applied)"

uid="$(awk '/^Uid:/ {print $2}' "/proc/$SERVER_PID/status")"
want_uid="$IMAGE_UID"
[[ $(id -u) -eq 0 ]] || want_uid="$(id -u)"
[[ $uid == "$want_uid" ]] || fail "server runs as uid $uid, not $want_uid"
ok "serve runs as uid $uid"

# A signed callback, as `docker compose exec txhook txhook send` would send it.
ID="$(cat /proc/sys/kernel/random/uuid)"
out="$(like_image txhook send --type PAYMENT --state PENDING --id "$ID" --repeat 2)" ||
    fail "txhook send: $out"
grep -q '^200 .*"status":"stored"' <<<"$out" || fail "first delivery not stored: $out"
grep -q '^200 .*"status":"duplicate"' <<<"$out" || fail "retry not a duplicate: $out"
ok "signed callback stored, its retry a duplicate"

body="$(curl -sS --fail-with-body -H "Authorization: Bearer $ADMIN_TOKEN" \
    "http://127.0.0.1:$PORT/api/v1/transactions/$ID")" || fail "read back: $body"
grep -q '"state":"PENDING"' <<<"$body" || fail "read back without its state: $body"
ok "read back through /api/v1/transactions/$ID"

[[ -z "$(ls -A "$WORKDIR")" ]] || fail "txhook wrote to its working directory: $(ls -A "$WORKDIR")"
ok "working directory untouched (read-only root file system is fine)"

# docker stop: SIGTERM, then SIGKILL after the grace period (30 s in docker-compose.yml).
kill -TERM "$SERVER_PID"
deadline=$((SECONDS + 30))
while kill -0 "$SERVER_PID" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "still running 30 s after SIGTERM"
    sleep 0.2
done
set +e
wait "$SERVER_PID"
code=$?
set -e
SERVER_PID=""
[[ $code -eq 0 ]] || fail "exit code $code after SIGTERM"
if grep -qi 'panicked' "$TMP/serve.log"; then fail "the log shows a panic"; fi
ok "SIGTERM: clean exit 0"

say "$PASSED passed, 0 failed"
