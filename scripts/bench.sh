#!/usr/bin/env bash
# The throughput benchmark: txhook's `single` and `batched` write modes side by side, and the
# raw limit of PostgreSQL on the same machine, printed as one table.
#
# Usage: scripts/bench.sh
#
# Starts (creating it on first use) the private cluster "bench" on 127.0.0.1:15434
# (target/pg/bench, fsync on; see scripts/pg.sh) and builds the release binary. Then, for each
# concurrency, it runs the release server once in each write mode on a fresh database and
# loads it with `txhook bench` (unique signed callbacks, checked afterwards through the read
# API), and runs pgbench inserting the same rows (event, transaction, history) 100 callbacks
# per transaction as the raw limit. Each row also gives the CPU time the server, the load
# generator and PostgreSQL (all its processes) spent per callback answered, sampled from
# /proc over the measured window. It prints the table and exits non-zero when any run has
# an acknowledged event missing. The cluster is left running; stop it with
# `scripts/pg.sh stop bench`.
#
# Environment:
#   BENCH_DURATION      measured seconds per run (default 10)
#   BENCH_WARMUP        warm-up seconds per run (default 2)
#   BENCH_CONCURRENCY   space-separated concurrencies (default "8 64 256")
#   BENCH_MODES         write modes (default "single batched")
#   BENCH_PG_PORT       port of the bench cluster (default 15434)
#   BENCH_PORT          port of the server under test (default 15481)
#   BENCH_PGBENCH_CLIENTS  pgbench connections for the raw limit (default 4)
#   BENCH_SERVER_ENV    extra settings for the server, e.g. "TXHOOK_BATCH_WRITERS=8"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-2}"
CONCURRENCY="${BENCH_CONCURRENCY:-8 64 256}"
MODES="${BENCH_MODES:-single batched}"
PG_PORT="${BENCH_PG_PORT:-15434}"
PORT="${BENCH_PORT:-15481}"
PGBENCH_CLIENTS="${BENCH_PGBENCH_CLIENTS:-4}"
KEY="bench-shared-key-$$"
TOKEN="bench-admin-token-$$"

log() { printf 'bench.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
command -v pgbench >/dev/null 2>&1 || die "pgbench not found (apt-get install postgresql-contrib or postgresql-client)"
command -v psql >/dev/null 2>&1 || die "psql not found"

ADMIN_URL="$(bash scripts/pg.sh start bench "$PG_PORT")"
PG_DATA="$PWD/target/pg/bench/data"
log "cluster: $ADMIN_URL"
log "building the release binary"
cargo build --release --locked --quiet
BIN=target/release/txhook
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
: >"$WORK/empty.toml"

db_url() { printf '%s\n' "${ADMIN_URL%/*}/$1"; }
fresh_db() { # <name>: drop and create it, print its URL
    PGOPTIONS="-c client_min_messages=warning" psql -X -q "$ADMIN_URL" -v ON_ERROR_STOP=1 \
        -c "drop database if exists $1" -c "create database $1" >/dev/null
    db_url "$1"
}
drop_db() { PGOPTIONS="-c client_min_messages=warning" psql -X -q "$ADMIN_URL" -c "drop database if exists $1" >/dev/null; }
kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$2/status"; }
ticks() { # <pid>...: user+system clock ticks these processes have used
    local t=0 p
    for p in "$@"; do
        [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}
cpu_ticks() { # <server pid> <generator pid>: ticks of the server, the generator, PostgreSQL
    local pm
    pm="$(head -n1 "$PG_DATA/postmaster.pid")"
    # shellcheck disable=SC2046 # one word per pid
    echo "$(ticks "$1") $(ticks "$2") $(ticks "$pm" $(pgrep -P "$pm"))"
}

# A corpus big enough for the fastest run we expect, with room: bodies cost ~1.3 KiB each.
corpus_for() { echo $(((DURATION + WARMUP) * 25000)); }

ROWS=() # mode|concurrency|callbacks/s|p99 ms|idle KiB|peak KiB|acked|missing|errors+non-200
FAILED=0

run_txhook() { # <mode> <concurrency>
    local mode="$1" c="$2" name="bench_${1}_$2" url idle peak json
    url="$(fresh_db "$name")"
    # shellcheck disable=SC2086 # BENCH_SERVER_ENV is a list of NAME=value words
    env -i PATH="$PATH" RUST_LOG=warn DATABASE_URL="$url" TXHOOK_LISTEN="127.0.0.1:$PORT" \
        TXHOOK_SHARED_KEY="$KEY" TXHOOK_ADMIN_TOKEN="$TOKEN" TXHOOK_WRITE_MODE="$mode" \
        ${BENCH_SERVER_ENV:-} "$BIN" --config "$WORK/empty.toml" serve 2>"$WORK/server-$name.log" &
    SERVER_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        "$BIN" healthcheck --url "http://127.0.0.1:$PORT/readyz" --timeout 1 2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$name.log" >&2; die "server exited"; }
        sleep 0.1
    done
    sleep 0.5
    idle="$(kib VmRSS "$SERVER_PID")"
    log "$mode c=$c: ${WARMUP}s warm-up + ${DURATION}s"
    env -i PATH="$PATH" RUST_LOG=warn TXHOOK_SHARED_KEY="$KEY" TXHOOK_ADMIN_TOKEN="$TOKEN" \
        "$BIN" --config "$WORK/empty.toml" bench --json \
        --url "http://127.0.0.1:$PORT/webhooks/transactions" --concurrency "$c" \
        --duration "${DURATION}s" --warmup "${WARMUP}s" --corpus "$(corpus_for)" \
        >"$WORK/$name.json" 2>"$WORK/bench-$name.log" &
    local bench_pid=$! cpu0 cpu1
    # CPU of each party over the measured window (from half a second after the warm-up to a
    # second before the end), to say where a callback's cost goes.
    for ((i = 0; i < 600; i++)); do
        grep -q loading "$WORK/bench-$name.log" 2>/dev/null && break
        kill -0 "$bench_pid" 2>/dev/null || break
        sleep 0.1
    done
    sleep "$WARMUP"
    sleep 0.5
    cpu0="$(cpu_ticks "$SERVER_PID" "$bench_pid") $(date +%s%N)"
    sleep $((DURATION > 2 ? DURATION - 1 : 1))
    cpu1="$(cpu_ticks "$SERVER_PID" "$bench_pid") $(date +%s%N)"
    wait "$bench_pid" || true
    json="$(cat "$WORK/$name.json")"
    peak="$(kib VmHWM "$SERVER_PID")"
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    drop_db "$name"
    [[ -n $json ]] || { cat "$WORK/bench-$name.log" >&2; die "txhook bench printed no report for $mode c=$c"; }
    local row
    row="$(python3 - "$WORK/$name.json" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
c = r.get("check") or {}
ok = sum(r["counts"].get(k, 0) for k in ("stored", "duplicate", "quarantined"))
rate = ok / r["duration_secs"]
a, b, hz = [int(x) for x in sys.argv[2].split()], [int(x) for x in sys.argv[3].split()], int(sys.argv[4])
secs = (b[3] - a[3]) / 1e9
us = ["%.0f" % ((b[i] - a[i]) / hz / secs / rate * 1e6) if rate else "-" for i in range(3)]
print("%.0f|%.1f|%d|%d|%d|%s" % (rate, r["latency_ms"]["p99"], c.get("acked", -1),
      c.get("missing", -1), r["requests"] - ok, "/".join(us)))
EOF
)"
    IFS='|' read -r rate p99 acked missing bad cpu <<<"$row"
    ROWS+=("$mode|$c|$rate|$p99|$idle|$peak|$acked|$missing|$bad|$cpu")
    if [[ $missing != 0 ]]; then FAILED=1; fi
}

run_pgbench() { # the raw limit: the rows of 100 callbacks per transaction
    local name=bench_raw url tps
    url="$(fresh_db "$name")"
    env -i PATH="$PATH" DATABASE_URL="$url" RUST_LOG=warn TXHOOK_SHARED_KEY="$KEY" \
        "$BIN" --config "$WORK/empty.toml" migrate 2>/dev/null
    # A realistic 1 KiB body, and per callback the three rows txhook writes.
    cat >"$WORK/raw.sql" <<'EOF'
with ev as (
    insert into events (source, dedup_key, received_at, headers, body, outcome,
                        transaction_id, state)
    select 'callback', md5(random()::text || clock_timestamp()::text || g), now(),
           '{"content-type": "application/json", "x-hubpay-hmac": "0123456789abcdef"}',
           convert_to(rpad('{"id":"' || gen_random_uuid() || '","type":"PAYMENT"', 1100, ' x'), 'UTF8'),
           'stored', gen_random_uuid()::text, 'PENDING'
      from generate_series(1, 100) g
    returning sequence, transaction_id, state, received_at
), tx as (
    insert into transactions (id, current_sequence, first_sequence, type, state, amount,
                              currency, first_received_at, updated_at)
    select transaction_id, sequence, sequence, 'PAYMENT', state, 12.34, 'EUR',
           received_at, received_at from ev
)
insert into transaction_states (sequence, transaction_id, state, amount, currency, applied,
                                received_at)
select sequence, transaction_id, state, 12.34, 'EUR', true, received_at from ev;
EOF
    log "raw limit: pgbench, $PGBENCH_CLIENTS clients, 100 callbacks per transaction, ${DURATION}s"
    pgbench -n -c "$PGBENCH_CLIENTS" -j 2 -T "$DURATION" -f "$WORK/raw.sql" "$url" \
        >"$WORK/pgbench.out" 2>&1 || { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
    tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out" | head -n1)"
    drop_db "$name"
    RAW="$(awk -v t="$tps" 'BEGIN { printf "%.0f", t * 100 }')"
}

START=$(date +%s)
for c in $CONCURRENCY; do
    for mode in $MODES; do
        run_txhook "$mode" "$c"
    done
done
run_pgbench

python3 - "$RAW" "$DURATION" "$WARMUP" "${ROWS[@]}" <<'EOF'
import sys
raw, duration, warmup = float(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = [r.split("|") for r in sys.argv[4:]]
print(f"txhook bench: {duration}s measured after {warmup}s warm-up per run, fresh database each, fsync on")
print()
print(f"{'mode':<10}{'conc':>6}{'callbacks/s':>13}{'p99 ms':>9}{'idle RSS':>10}{'peak RSS':>10}"
      f"{'acked':>9}{'missing':>9}{'non-200':>9}{'cpu us/callback':>16}")
rate = {}
for mode, c, r, p99, idle, peak, acked, missing, bad, cpu in rows:
    rate[(mode, c)] = float(r)
    print(f"{mode:<10}{c:>6}{float(r):>13.0f}{float(p99):>9.1f}{int(idle)/1024:>8.1f}Mi"
          f"{int(peak)/1024:>8.1f}Mi{acked:>9}{missing:>9}{bad:>9}{cpu:>16}")
print(f"{'':<76}(server/generator/PostgreSQL)")
print(f"{'raw limit':<10}{'':>6}{raw:>13.0f}   (pgbench: the same three rows per callback, 100 callbacks per commit)")
print()
for c in dict.fromkeys(c for _, c, *_ in rows):
    s, b = rate.get(("single", c)), rate.get(("batched", c))
    parts = []
    if s and b:
        parts.append(f"batched/single {b / s:.2f}x")
    if b:
        parts.append(f"batched/raw-limit {b / raw:.2f}")
    if parts:
        print(f"c={c:<5} " + "   ".join(parts))
EOF
log "done in $(($(date +%s) - START)) s"
if ((FAILED)); then
    die "a run has acknowledged events missing"
fi
