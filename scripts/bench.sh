#!/usr/bin/env bash
# The throughput benchmark: txhook against a naive receiver and against PostgreSQL's own
# batched-insert limit, on one private PostgreSQL, printed as one table.
#
# Usage: scripts/bench.sh
#
# Starts (creating it on first use) the private cluster "bench" on 127.0.0.1:15434
# (target/pg/bench, fsync on; see scripts/pg.sh) and builds the release binary and the naive
# receiver (examples/naive_receiver.rs: axum + sqlx, one INSERT of the body per request, no
# verification, a pool of 16 like txhook's default). Then:
#   - the raw limit: pgbench writing the rows txhook's acknowledgement writes per callback
#     (one event_keys row, one events row with a body of the bench's size), 100 callbacks
#     per commit;
#   - for each concurrency, the naive receiver and txhook (each write mode in BENCH_MODES),
#     each on a fresh database, loaded by `txhook bench` (unique signed callbacks) for the
#     warm-up and the measured window. The bench's check then reads the event log back and
#     counts acknowledged callbacks that are missing; against the naive receiver it reads
#     the receiver's own table through the same endpoint shape.
# Each row gives callbacks answered per second, p50/p99 latency, the server's resident memory
# idle (after start) and at its peak (VmHWM), the CPU time the server, the load generator and
# PostgreSQL (all its processes) spent per callback over the measured window (from /proc),
# and for txhook how long its projection took to catch up with the log after the load ended
# (polled in the database: no event after the projector's position). It prints the table,
# saves its rows to target/bench/<time>.tsv (see scripts/bench-medians.py) and exits
# non-zero when any run has an acknowledged event missing. The cluster is left running; stop
# it with `scripts/pg.sh stop bench`.
#
# Environment:
#   BENCH_DURATION      measured seconds per run (default 10)
#   BENCH_WARMUP        warm-up seconds per run (default 2)
#   BENCH_CONCURRENCY   space-separated concurrencies (default "8 64 256")
#   BENCH_MODES         txhook write modes (default "batched"; "batched single" adds single)
#   BENCH_NAIVE         1 to run the naive receiver (default), 0 to leave it out
#   BENCH_PG_PORT       port of the bench cluster (default 15434)
#   BENCH_PORT          port of the server under test (default 15481)
#   BENCH_PGBENCH_CLIENTS  pgbench connections for the raw limit (default 4)
#   BENCH_CATCHUP_LIMIT seconds to wait for the projection to catch up (default 120)
#   BENCH_SERVER_ENV    extra settings for txhook, e.g. "TXHOOK_BATCH_WRITERS=3"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-2}"
CONCURRENCY="${BENCH_CONCURRENCY:-8 64 256}"
MODES="${BENCH_MODES:-batched}"
NAIVE="${BENCH_NAIVE:-1}"
PG_PORT="${BENCH_PG_PORT:-15434}"
PORT="${BENCH_PORT:-15481}"
PGBENCH_CLIENTS="${BENCH_PGBENCH_CLIENTS:-4}"
CATCHUP_LIMIT="${BENCH_CATCHUP_LIMIT:-120}"
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
log "building the release binary and the naive receiver"
cargo build --release --locked --quiet --bin txhook --example naive_receiver
BIN=target/release/txhook
NAIVE_BIN=target/release/examples/naive_receiver
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
cpu_ticks() { # <server pid> <generator pid>: ticks of the server, the generator, PostgreSQL,
    # and of the whole machine (busy: user, nice, system, irq, softirq, steal)
    local pm
    pm="$(head -n1 "$PG_DATA/postmaster.pid")"
    # shellcheck disable=SC2046 # one word per pid
    echo "$(ticks "$1") $(ticks "$2") $(ticks "$pm" $(pgrep -P "$pm"))" \
        "$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)"
}

# A corpus big enough for the fastest run we expect, with room: bodies cost ~1.3 KiB each.
corpus_for() { echo $(((DURATION + WARMUP) * 25000)); }

# The projection has caught up when no event lies after the projector's position in the
# log's tail order.
CAUGHT_UP="select not exists (select 1 from events e, consumer_positions p
                               where p.name = 'projector'
                                 and (e.txid, e.sequence) > (p.txid, p.sequence))"

ROWS=() # server|conc|rate|p50|p99|idle KiB|peak KiB|acked|missing|non-200|cpu|catch-up s|made live|others
FAILED=0

run_step() { # <server: naive | batched | single> <concurrency>
    local kind="$1" c="$2" name="bench_${1}_$2" url idle peak json i
    url="$(fresh_db "$name")"
    if [[ $kind == naive ]]; then
        env -i PATH="$PATH" DATABASE_URL="$url" NAIVE_LISTEN="127.0.0.1:$PORT" \
            "$NAIVE_BIN" 2>"$WORK/server-$name.log" &
    else
        # shellcheck disable=SC2086 # BENCH_SERVER_ENV is a list of NAME=value words
        env -i PATH="$PATH" RUST_LOG=warn DATABASE_URL="$url" TXHOOK_LISTEN="127.0.0.1:$PORT" \
            TXHOOK_SHARED_KEY="$KEY" TXHOOK_ADMIN_TOKEN="$TOKEN" TXHOOK_WRITE_MODE="$kind" \
            ${BENCH_SERVER_ENV:-} "$BIN" --config "$WORK/empty.toml" serve 2>"$WORK/server-$name.log" &
    fi
    SERVER_PID=$!
    for ((i = 0; i < 100; i++)); do
        "$BIN" healthcheck --url "http://127.0.0.1:$PORT/readyz" --timeout 1 2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$name.log" >&2; die "server exited"; }
        sleep 0.1
    done
    sleep 0.5
    idle="$(kib VmRSS "$SERVER_PID")"
    log "$kind c=$c: ${WARMUP}s warm-up + ${DURATION}s"
    env -i PATH="$PATH" RUST_LOG=warn TXHOOK_SHARED_KEY="$KEY" TXHOOK_ADMIN_TOKEN="$TOKEN" \
        "$BIN" --config "$WORK/empty.toml" bench --json \
        --url "http://127.0.0.1:$PORT/webhooks/transactions" --concurrency "$c" \
        --duration "${DURATION}s" --warmup "${WARMUP}s" --corpus "$(corpus_for)" \
        >"$WORK/$name.json" 2>"$WORK/bench-$name.log" &
    local bench_pid=$! cpu0 cpu1 ended="" catchup="-"
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
    # The load ends when the generator's last answer arrives; it says when (unix seconds).
    while kill -0 "$bench_pid" 2>/dev/null; do
        ended="$(sed -n 's/^bench: load ended at \([0-9.]*\).*/\1/p' "$WORK/bench-$name.log")"
        [[ -z $ended ]] || break
        sleep 0.05
    done
    if [[ $kind != naive && -n $ended ]]; then
        # Poll (alongside the bench's own check) until the projection holds every event.
        local now
        while :; do
            now="$(date +%s.%N)"
            if [[ "$(psql -X -A -t -q "$url" -c "$CAUGHT_UP" 2>/dev/null)" == t ]]; then
                catchup="$(awk -v a="$ended" -v b="$now" 'BEGIN { d = b - a; printf "%.1f", d < 0 ? 0 : d }')"
                break
            fi
            if awk -v a="$ended" -v b="$now" -v l="$CATCHUP_LIMIT" 'BEGIN { exit !(b - a > l) }'; then
                catchup=">$CATCHUP_LIMIT"
                break
            fi
            sleep 0.1
        done
    fi
    wait "$bench_pid" || true
    json="$(cat "$WORK/$name.json")"
    peak="$(kib VmHWM "$SERVER_PID")"
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    drop_db "$name"
    [[ -n $json ]] || { cat "$WORK/bench-$name.log" >&2; die "txhook bench printed no report for $kind c=$c"; }
    local row
    row="$(python3 - "$WORK/$name.json" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
c = r.get("check") or {}
ok = sum(r["counts"].get(k, 0) for k in ("stored", "duplicate", "quarantined"))
rate = ok / r["duration_secs"]
a, b, hz = [int(x) for x in sys.argv[2].split()], [int(x) for x in sys.argv[3].split()], int(sys.argv[4])
secs = (b[4] - a[4]) / 1e9
us = ["%.0f" % ((b[i] - a[i]) / hz / secs / rate * 1e6) if rate else "-" for i in range(3)]
# Cores busy with anything else on the machine (other people's builds and tests).
others = max(0.0, ((b[3] - a[3]) - sum(b[i] - a[i] for i in range(3))) / hz / secs)
missing = c.get("missing", -1) + c.get("mismatched", 0)
print("%.0f|%.2f|%.1f|%d|%d|%d|%s|%d|%.2f" % (rate, r["latency_ms"]["p50"], r["latency_ms"]["p99"],
      c.get("acked", -1), missing, r["requests"] - ok, "/".join(us), r.get("made_live", 0), others))
EOF
)"
    IFS='|' read -r rate p50 p99 acked missing bad cpu live others <<<"$row"
    ROWS+=("$kind|$c|$rate|$p50|$p99|$idle|$peak|$acked|$missing|$bad|$cpu|$catchup|$live|$others")
    if [[ $missing != 0 ]]; then FAILED=1; fi
}

run_pgbench() { # the raw limit: the acknowledgement's rows of 100 callbacks per transaction
    local name=bench_raw url tps
    url="$(fresh_db "$name")"
    env -i PATH="$PATH" DATABASE_URL="$url" RUST_LOG=warn TXHOOK_SHARED_KEY="$KEY" \
        "$BIN" --config "$WORK/empty.toml" migrate 2>/dev/null
    # Per callback the two rows txhook's ack writes, of the sizes the bench's callbacks make:
    # the dedup key ("json:" and 64 hex digits) and the event with a 900-byte body and the
    # request headers txhook keeps (~240 bytes of jsonb).
    cat >"$WORK/raw.sql" <<'EOF'
with key as (
    insert into event_keys (dedup_key, sequence, received_at)
    select 'json:' || encode(sha256((random()::text || clock_timestamp()::text || g)::bytea), 'hex'),
           nextval('event_sequence'), now()
      from generate_series(1, 100) g
    on conflict (dedup_key) do nothing
    returning dedup_key, sequence, received_at
)
insert into events (sequence, source, dedup_key, received_at, headers, body, outcome,
                    transaction_id, state)
select sequence, 'callback', dedup_key, received_at,
       jsonb_build_object('host', '127.0.0.1:15481', 'content-type', 'application/json',
                          'x-request-id', gen_random_uuid()::text,
                          'x-hubpay-hmac', encode(sha256(dedup_key::bytea), 'hex'),
                          'content-length', '900'),
       convert_to(rpad('{"id":"' || gen_random_uuid() || '","type":"PAYMENT"', 900, ' x'), 'UTF8'),
       'stored', gen_random_uuid()::text, 'PENDING'
  from key;
EOF
    log "raw limit: pgbench, $PGBENCH_CLIENTS clients, 100 callbacks per transaction, ${DURATION}s"
    pgbench -n -c "$PGBENCH_CLIENTS" -j 2 -T "$DURATION" -f "$WORK/raw.sql" "$url" \
        >"$WORK/pgbench.out" 2>&1 || { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
    tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out" | head -n1)"
    drop_db "$name"
    RAW="$(awk -v t="$tps" 'BEGIN { printf "%.0f", t * 100 }')"
}

START=$(date +%s)
run_pgbench
for c in $CONCURRENCY; do
    if [[ $NAIVE == 1 ]]; then run_step naive "$c"; fi
    for mode in $MODES; do
        run_step "$mode" "$c"
    done
done

mkdir -p target/bench
SAVED="target/bench/$(date +%Y%m%d-%H%M%S).tsv"
{
    printf 'raw|%s\n' "$RAW"
    printf '%s\n' "${ROWS[@]}"
} >"$SAVED"

python3 - "$RAW" "$DURATION" "$WARMUP" "$PGBENCH_CLIENTS" "${ROWS[@]}" <<'EOF'
import sys
raw, duration, warmup, clients = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rows = [r.split("|") for r in sys.argv[5:]]
naive = {c: float(r) for k, c, r, *_ in rows if k == "naive"}
print(f"scripts/bench.sh: {duration} s measured after {warmup} s warm-up per step, fresh database each, fsync on")
print()
print(f"{'server':<8}{'conc':>5}{'callbacks/s':>12}{'p50 ms':>8}{'p99 ms':>8}{'idle RSS':>10}{'peak RSS':>10}"
      f"{'cpu us/callback':>17}{'others':>7}{'acked':>8}{'missing':>8}{'non-200':>8}{'catch-up':>9}{'/naive':>8}{'/raw':>6}")
for kind, c, r, p50, p99, idle, peak, acked, missing, bad, cpu, catchup, live, others in rows:
    r = float(r)
    name = "naive" if kind == "naive" else ("txhook" if kind == "batched" else f"tx-{kind}")
    vs_naive = f"{r / naive[c]:.2f}x" if kind != "naive" and naive.get(c) else "-"
    vs_raw = f"{r / raw:.2f}" if kind != "naive" else "-"
    if catchup not in ("-",) and not catchup.startswith(">"):
        catchup += " s"
    print(f"{name:<8}{c:>5}{r:>12.0f}{float(p50):>8.1f}{float(p99):>8.1f}{int(idle)/1024:>8.1f}Mi"
          f"{int(peak)/1024:>8.1f}Mi{cpu:>17}{others:>7}{acked:>8}{missing:>8}{bad:>8}{catchup:>9}{vs_naive:>8}{vs_raw:>6}"
          + (f"  (corpus ran out: {live} made live)" if live != "0" else ""))
print(f"{'raw':<8}{clients:>5}{raw:>12.0f}   pgbench: the ack's rows (event key + event, 900-byte body), 100 callbacks per commit")
print()
print("cpu: server/generator/PostgreSQL per callback over the measured window; others: cores busy with")
print("other processes meanwhile; catch-up: from the last answer until no event lies after the")
print("projector's position; naive: one INSERT per request, checked against its own table")
EOF
log "rows saved to $SAVED"
log "done in $(($(date +%s) - START)) s"
if ((FAILED)); then
    die "a run has acknowledged events missing"
fi
