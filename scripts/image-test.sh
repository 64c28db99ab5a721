#!/usr/bin/env bash
# Builds the container image from Dockerfile and checks, with a real Docker engine and a real
# PostgreSQL container, what a person would check by hand:
#
#   - the image builds (its size and the build time are printed);
#   - /usr/local/bin/txhook in it is stripped (no symbol table, no debug sections; its size
#     is printed);
#   - `txhook migrate` in the image applies the migrations to an empty database;
#   - `txhook serve` starts with a read-only root file system (and no capabilities, as
#     docker-compose.yml runs it), runs as uid 10001, and the image's HEALTHCHECK turns
#     `healthy` (polled against a deadline);
#   - a signed callback from `txhook send` (run inside the container, as `docker compose exec`
#     would) is answered 200 `stored`, its retry `duplicate`, and it reads back through
#     GET /api/v1/transactions/{id} with the admin token;
#   - `docker stop` (SIGTERM, then SIGKILL after --stop-timeout 30) ends it with exit code 0,
#     well within the 30 s, with no panic in the log.
# Every container it starts is removed on exit (with its anonymous volumes).
#
# Without a Docker engine (`docker info` fails), or with one that has no base images and
# cannot pull them, it prints "skipped: …" and exits 0, so that CI can call it anywhere.
#
# Usage: scripts/image-test.sh
# Environment:
#   IMAGE_TEST_NETWORK   host (default) or bridge.
#                        host: every container shares the machine's network (an engine
#                        started with --bridge=none has nothing else). PostgreSQL listens on
#                        127.0.0.1:IMAGE_TEST_PG_PORT, txhook on 127.0.0.1:IMAGE_TEST_PORT,
#                        and `docker build` runs with --network host.
#                        bridge: the usual Docker host. A network of its own for the two
#                        containers (PostgreSQL reached as db:5432, txhook on 8080 as in the
#                        image), txhook published on 127.0.0.1:IMAGE_TEST_PORT only.
#   IMAGE_TEST_PORT      txhook's port on 127.0.0.1 (default: the first free one from 18080)
#   IMAGE_TEST_PG_PORT   PostgreSQL's port on 127.0.0.1 in host mode (default: the first free
#                        one from 15437)
#   IMAGE_TEST_IMAGE     the tag to build and test (default txhook:image-test)
#   IMAGE_TEST_BUILD     1 (default) builds the image; 0 tests IMAGE_TEST_IMAGE as it is
#   IMAGE_TEST_PG_IMAGE  the PostgreSQL image (default postgres:16-bookworm, as compose uses)
#   DOCKER_BUILDKIT      passed to `docker build`; 0 (the legacy builder) unless set, since it
#                        needs neither buildx nor anything fetched for the build itself
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'image-test.sh: %s\n' "$*" >&2; }

if ! command -v docker >/dev/null 2>&1; then
    say "skipped: no Docker engine (no docker command); nothing was built or run"
    exit 0
fi
if ! timeout 30 docker info >/dev/null 2>&1; then
    say "skipped: no Docker engine (docker info failed); nothing was built or run"
    exit 0
fi

# An engine that cannot get the base images (no registry access, nothing tagged locally)
# cannot build or run anything: that too is a skip, said as such, not a failure of the image.
base_images() {
    sed -n 's/^ARG \(RUST_IMAGE\|RUNTIME_IMAGE\)=//p' Dockerfile
    echo "${IMAGE_TEST_PG_IMAGE:-postgres:16-bookworm}"
}
while read -r base; do
    if ! docker image inspect "$base" >/dev/null 2>&1 &&
        ! timeout 300 docker pull -q "$base" >/dev/null 2>&1; then
        say "skipped: the Docker engine has no $base and cannot pull it; nothing was built or run"
        exit 0
    fi
done < <(base_images)

NETWORK="${IMAGE_TEST_NETWORK:-host}"
IMAGE="${IMAGE_TEST_IMAGE:-txhook:image-test}"
PG_IMAGE="${IMAGE_TEST_PG_IMAGE:-postgres:16-bookworm}"
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"
case "$NETWORK" in
host | bridge) ;;
*)
    say "IMAGE_TEST_NETWORK must be host or bridge, not $NETWORK"
    exit 2
    ;;
esac

TMP="$(mktemp -d /tmp/txhook-image-test.XXXXXX)"
RUN_ID="txhook-image-test-$$"
PG="$RUN_ID-db"
APP="$RUN_ID-app"
NET=""
PASSED=0

cleanup() {
    local c
    for c in "$APP" "$RUN_ID-strip" "$PG"; do
        docker rm -f -v "$c" >/dev/null 2>&1 || true
    done
    if [[ -n $NET ]]; then docker network rm "$NET" >/dev/null 2>&1 || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    say "FAIL: $*"
    local c
    for c in "$APP" "$PG"; do
        if docker container inspect "$c" >/dev/null 2>&1; then
            say "last lines of $c's log:"
            docker logs --tail 40 "$c" 2>&1 | sed 's/^/    /' >&2 || true
        fi
    done
    exit 1
}
ok() {
    PASSED=$((PASSED + 1))
    say "ok: $*"
}

command -v curl >/dev/null 2>&1 || fail "curl not found (apt-get install curl)"

# port_free PORT: nothing accepts connections on 127.0.0.1:PORT (nor listens on it anywhere,
# when ss can tell).
port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
    if command -v ss >/dev/null 2>&1 && ss -Htln "sport = :$1" | grep -q .; then return 1; fi
    return 0
}
# free_port FROM: the first free port from FROM on, below 32768 (the kernel's ephemeral range).
free_port() {
    local p
    for ((p = $1; p < $1 + 200 && p < 32768; p++)); do
        if port_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

PORT="${IMAGE_TEST_PORT:-}"
[[ -n $PORT ]] || PORT="$(free_port 18080)" || fail "no free port on 127.0.0.1 from 18080"
port_free "$PORT" || fail "127.0.0.1:$PORT is taken; set IMAGE_TEST_PORT to a free port"
if [[ $NETWORK == host ]]; then
    PG_PORT="${IMAGE_TEST_PG_PORT:-}"
    [[ -n $PG_PORT ]] || PG_PORT="$(free_port 15437)" || fail "no free port on 127.0.0.1 from 15437"
    port_free "$PG_PORT" || fail "127.0.0.1:$PG_PORT is taken; set IMAGE_TEST_PG_PORT to a free port"
    [[ $PG_PORT != "$PORT" ]] || fail "IMAGE_TEST_PORT and IMAGE_TEST_PG_PORT are both $PORT"
fi
BASE="http://127.0.0.1:$PORT"

# --- the image builds ----------------------------------------------------------------------
if [[ ${IMAGE_TEST_BUILD:-1} != 0 ]]; then
    BUILD=(docker build --force-rm -t "$IMAGE" --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
    [[ $NETWORK == host ]] && BUILD+=(--network host)
    mkdir -p target/image-test
    LOG=target/image-test/build.log
    say "DOCKER_BUILDKIT=$DOCKER_BUILDKIT ${BUILD[*]} . (log: $LOG; the first build compiles every dependency and can take 15 minutes or more)"
    started=$SECONDS
    if ! "${BUILD[@]}" . >"$LOG" 2>&1; then
        tail -n 40 "$LOG" >&2
        fail "docker build failed"
    fi
    ok "image $IMAGE builds ($((SECONDS - started)) s, $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1 / 1e6}'))"
    rev="$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.revision"}}' "$IMAGE")"
    [[ $rev == "$(git rev-parse HEAD 2>/dev/null || echo unknown)" ]] || fail "label org.opencontainers.image.revision is $rev"
else
    docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "IMAGE_TEST_BUILD=0 but there is no image $IMAGE"
    say "IMAGE_TEST_BUILD=0: testing $IMAGE as it is"
fi

[[ $(docker image inspect -f '{{.Config.User}}' "$IMAGE") == 10001:10001 ]] ||
    fail "the image's USER is not 10001:10001"

# --- the binary in it is stripped ----------------------------------------------------------
docker create --name "$RUN_ID-strip" "$IMAGE" >/dev/null
docker cp "$RUN_ID-strip:/usr/local/bin/txhook" "$TMP/txhook" >/dev/null
docker rm "$RUN_ID-strip" >/dev/null
size="$(stat -c %s "$TMP/txhook")"
size_mb="$(awk -v s="$size" 'BEGIN { printf "%.1f MiB", s / 1048576 }')"
if command -v readelf >/dev/null 2>&1; then
    sections="$(LC_ALL=C readelf -SW "$TMP/txhook")" || fail "readelf cannot read the binary"
    # .debug_gdb_scripts is loaded (flag A) and survives --strip-all on purpose: not debug info.
    left="$(grep -Eo '\] \.(symtab|strtab|debug_[a-z_]+) ' <<<"$sections" | grep -v debug_gdb_scripts || true)"
    [[ -z $left ]] || fail "/usr/local/bin/txhook is not stripped ($size_mb): $(tr -d '] ' <<<"$left" | tr '\n' ' ')"
fi
if command -v file >/dev/null 2>&1; then
    file "$TMP/txhook" | grep -q ', stripped' || fail "/usr/local/bin/txhook is not stripped: $(file -b "$TMP/txhook")"
elif ! command -v readelf >/dev/null 2>&1; then
    fail "neither readelf (binutils) nor file found to look at the binary"
fi
ok "/usr/local/bin/txhook is stripped: $size bytes ($size_mb)"

# --- PostgreSQL ----------------------------------------------------------------------------
random_secret() { head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }
PG_PASSWORD="$(random_secret)"
ADMIN_TOKEN="$(random_secret)"
SHARED_KEY="$(random_secret)"

# A database named apart from its owner: the official image creates any POSTGRES_DB, and so
# does a stand-in that only creates one when the two names differ.
PG_DB=txhook_image_test
PG_RUN=(docker run -d --name "$PG"
    -e POSTGRES_USER=txhook -e "POSTGRES_DB=$PG_DB" -e "POSTGRES_PASSWORD=$PG_PASSWORD")
if [[ $NETWORK == host ]]; then
    PG_RUN+=(--network host "$PG_IMAGE" -c listen_addresses=127.0.0.1 -c "port=$PG_PORT")
    PG_HOSTPORT="127.0.0.1:$PG_PORT"
    PG_READY=(pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -U txhook -d "$PG_DB")
else
    NET="$RUN_ID"
    docker network create "$NET" >/dev/null
    # POSTGRES_LISTEN: a stand-in image may listen on loopback only unless told otherwise.
    PG_RUN+=(--network "$NET" --network-alias db -e 'POSTGRES_LISTEN=*' "$PG_IMAGE")
    PG_HOSTPORT="db:5432"
    PG_READY=(pg_isready -q -h 127.0.0.1 -p 5432 -U txhook -d "$PG_DB")
fi
say "PostgreSQL: $PG_IMAGE at $PG_HOSTPORT (network $NETWORK)"
"${PG_RUN[@]}" >/dev/null || fail "could not start $PG_IMAGE"
# Ready once it answers on TCP: the entrypoint's first-start server listens on a socket only.
deadline=$((SECONDS + 60))
until docker exec "$PG" "${PG_READY[@]}" 2>/dev/null; do
    [[ $(docker inspect -f '{{.State.Running}}' "$PG") == true ]] || fail "PostgreSQL exited"
    ((SECONDS < deadline)) || fail "PostgreSQL not ready after 60 s"
    sleep 0.5
done
ok "PostgreSQL ready"

# --- txhook's environment: .env.example, then the test's own values ------------------------
{
    grep -Ev '^[[:space:]]*(#|$)|^(DATABASE_URL|TXHOOK_SHARED_KEY|TXHOOK_ADMIN_TOKEN|TXHOOK_LISTEN)=' .env.example
    echo "DATABASE_URL=postgres://txhook:$PG_PASSWORD@$PG_HOSTPORT/$PG_DB"
    echo "TXHOOK_SHARED_KEY=$SHARED_KEY"
    echo "TXHOOK_ADMIN_TOKEN=$ADMIN_TOKEN"
    if [[ $NETWORK == host ]]; then echo "TXHOOK_LISTEN=127.0.0.1:$PORT"; else echo "TXHOOK_LISTEN=0.0.0.0:8080"; fi
} >"$TMP/env"
chmod 600 "$TMP/env"

# As docker-compose.yml runs it: read-only root, no capabilities, no new privileges.
HARDENED=(--read-only --cap-drop ALL --security-opt no-new-privileges:true --env-file "$TMP/env")
if [[ $NETWORK == host ]]; then
    HARDENED+=(--network host)
else
    HARDENED+=(--network "$NET")
fi

# --- txhook migrate --------------------------------------------------------------------------
if ! out="$(docker run --rm "${HARDENED[@]}" "$IMAGE" migrate 2>&1)"; then
    printf '%s\n' "$out" | tail -n 20 >&2
    fail "txhook migrate failed"
fi
applied="$(docker exec "$PG" psql -X -At -U txhook -d "$PG_DB" -p "${PG_PORT:-5432}" \
    -c 'select count(*) from _sqlx_migrations where success')" || fail "cannot read _sqlx_migrations"
want="$(find migrations -maxdepth 1 -name '*.sql' | wc -l)"
[[ $applied -eq $want ]] || fail "$applied migrations applied, migrations/ has $want"
ok "txhook migrate applied $applied migrations (read-only root)"

# --- txhook serve ----------------------------------------------------------------------------
APP_RUN=(docker run -d --name "$APP" --stop-timeout 30 "${HARDENED[@]}")
[[ $NETWORK == bridge ]] && APP_RUN+=(-p "127.0.0.1:$PORT:8080")
"${APP_RUN[@]}" "$IMAGE" >/dev/null || fail "could not start $IMAGE"
say "txhook serve started; waiting for the image's HEALTHCHECK (interval 10 s) to report healthy"
started=$SECONDS
deadline=$((SECONDS + 120))
while :; do
    state="$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$APP")"
    case "$state" in
    "running healthy") break ;;
    "running starting") ;;
    running\ *) fail "health status: ${state#running }" ;;
    *) fail "txhook serve is ${state%% *} before it was healthy" ;;
    esac
    ((SECONDS < deadline)) || fail "not healthy after 120 s (status: ${state#running })"
    sleep 1
done
ok "HEALTHCHECK reports healthy after $((SECONDS - started)) s"

curl -fsS "$BASE/readyz" | grep -q '"status":"ready"' || fail "$BASE/readyz is not ready"
ok "$BASE/readyz answers ready from the host"

uid="$(docker exec "$APP" cat /proc/1/status | awk '/^Uid:/ {print $2 ":" $3 ":" $4 ":" $5}')"
[[ $uid == 10001:10001:10001:10001 ]] || fail "txhook (pid 1) runs with uids $uid, not 10001"
[[ $(docker exec "$APP" cat /proc/1/cmdline | tr '\0' ' ') == "txhook serve " ]] ||
    fail "pid 1 is not txhook serve"
ok "txhook serve is pid 1 and runs as uid 10001"

[[ $(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$APP") == true ]] || fail "not run with --read-only"
if docker exec "$APP" touch /tmp/probe 2>/dev/null; then fail "the root file system is writable (/tmp)"; fi
ok "the root file system is read-only (even /tmp)"

# A signed callback, as `docker compose exec txhook txhook send` sends it (the container's key,
# to its TXHOOK_LISTEN); sent twice, the retry must be a duplicate.
ID="$(cat /proc/sys/kernel/random/uuid)"
out="$(docker exec "$APP" txhook send --type PAYMENT --state PENDING --id "$ID" --repeat 2 2>&1)" ||
    fail "txhook send: $out"
grep -q '^200 {"status":"stored","sequence":[0-9]*}' <<<"$out" || fail "first delivery not stored: $out"
grep -q '^200 {"status":"duplicate"}' <<<"$out" || fail "retry not a duplicate: $out"
ok "signed callback answered 200 $(grep -o '{"status":"stored"[^}]*}' <<<"$out" | head -n1), its retry duplicate"

body="$(curl -sS --fail-with-body -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/api/v1/transactions/$ID")" ||
    fail "read back: $body"
grep -q "\"id\":\"$ID\"" <<<"$body" || fail "read back another transaction: $body"
grep -q '"state":"PENDING"' <<<"$body" || fail "read back without its state: $body"
code="$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/transactions/$ID")"
[[ $code == 401 ]] || fail "the read API answered $code without the admin token"
ok "read back through GET /api/v1/transactions/$ID (401 without the token)"

# --- docker stop: SIGTERM, clean exit --------------------------------------------------------
[[ $(docker inspect -f '{{.Config.StopTimeout}}' "$APP") == 30 ]] || fail "stop timeout is not 30 s"
started="$(date +%s%N)"
docker stop "$APP" >/dev/null || fail "docker stop failed"
took_ms=$((($(date +%s%N) - started) / 1000000))
took="$(awk -v ms="$took_ms" 'BEGIN { printf "%.1f", ms / 1000 }')"
code="$(docker inspect -f '{{.State.ExitCode}} {{.State.OOMKilled}}' "$APP")"
[[ $code == "0 false" ]] || fail "exit code and OOM-killed: $code after docker stop (SIGTERM)"
# An idle server has nothing to drain: anything near the 25 s drain or the 30 s SIGKILL is wrong.
((took_ms < 10000)) || fail "docker stop took $took s (stop timeout 30 s)"
if docker logs "$APP" 2>&1 | grep -qi 'panicked'; then fail "the log shows a panic"; fi
ok "docker stop (SIGTERM): exit code 0 after $took s, well within the 30 s stop timeout"

say "$PASSED passed, 0 failed"
