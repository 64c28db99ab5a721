#!/usr/bin/env bash
# Private PostgreSQL clusters for txhook development and tests.
#
# Usage:
#   scripts/pg.sh start  <name> <port>  create (if needed) and start the cluster
#                                       target/pg/<name>, listening only on
#                                       127.0.0.1:<port>; prints the DATABASE_URL
#                                       (postgres://txhook@127.0.0.1:<port>/txhook)
#                                       as the only line on stdout. Pick a port below
#                                       32768: Linux hands out 32768-60999 to outgoing
#                                       connections, and one of them may hold the port
#                                       (the scripts use 15432-15436)
#   scripts/pg.sh stop   <name>         fast shutdown; no error if not running
#   scripts/pg.sh kill   <name>         immediate shutdown (pg_ctl stop -m immediate):
#                                       no checkpoint, clients cut off, crash recovery
#                                       on the next start; for fault tests
#   scripts/pg.sh status <name>         exit 0 if running, 3 if stopped, 4 if absent
#   scripts/pg.sh sweep  <name> <like>  drop (with force) every database of the running
#                                       cluster whose name is LIKE <like>, e.g.
#                                       'txhook_test_%' (what crashed tests left behind),
#                                       except those named <word>_<word>_<pid>_… whose
#                                       process is still running
#
# Layout of target/pg/<name>/: data/ (PGDATA), sock/ (unix socket),
# postgres.log. Superuser and database are both "txhook"; authentication is
# "trust" (a private dev/test cluster that only listens on loopback).
#
# PostgreSQL refuses to run as root. When this script runs as root the server
# runs as the "postgres" system user (or "txhook-pg", created on demand). If
# that user cannot reach target/ (a parent directory such as /root is mode
# 700), the cluster lives in /tmp/txhook-pg-0/<name>-<hash> and
# target/pg/<name> is a symlink to it (/tmp may be wiped at reboot; the cluster
# is then recreated empty).
#
# Environment:
#   TXHOOK_PG_BINDIR  directory holding initdb/pg_ctl/postgres (skips lookup)
#   TXHOOK_PG_USER    (root only) system user to run the server as
#   TXHOOK_PG_READY_TIMEOUT  seconds to wait for the server to accept connections
#                     (default 30; crash recovery on a busy machine can take longer)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PG_ROOT="$ROOT/target/pg"
DB_USER=txhook
DB_NAME=txhook
READY_TIMEOUT="${TXHOOK_PG_READY_TIMEOUT:-30}"
UID_NOW="$(id -u)"

# Connection settings from the caller's environment must not leak into the
# commands below (they all get explicit -h/-p/-U/-d).
unset PGDATA PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGOPTIONS PGSERVICE \
    PGSERVICEFILE PGTARGETSESSIONATTRS 2>/dev/null || true

log() { printf 'pg.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

usage() {
    cat >&2 <<'EOF'
usage: scripts/pg.sh start  <name> <port>   # prints DATABASE_URL on stdout
       scripts/pg.sh stop   <name>
       scripts/pg.sh kill   <name>
       scripts/pg.sh status <name>
       scripts/pg.sh sweep  <name> <like pattern>
EOF
    exit 2
}

# ---------------------------------------------------------------------------
# PostgreSQL binaries

PGBIN=""

pg_major_of_bin() { # <bindir> -> "15"
    local v # "initdb (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)" -> 15
    v="$("$1/initdb" --version 2>/dev/null | sed -n 's/^[^0-9]*\([0-9][0-9]*\).*/\1/p' | head -n1)"
    [[ -n $v ]] && printf '%s\n' "$v"
}

lookup_pg_bin() {
    local p d best=""
    if [[ -n ${TXHOOK_PG_BINDIR:-} ]]; then
        [[ -x $TXHOOK_PG_BINDIR/initdb ]] || die "TXHOOK_PG_BINDIR=$TXHOOK_PG_BINDIR has no initdb"
        PGBIN="$TXHOOK_PG_BINDIR"
        return 0
    fi
    if p="$(command -v initdb 2>/dev/null)" && [[ -n $p ]]; then
        # Resolve symlinks (e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb)
        # so that pg_ctl, postgres, pg_isready, psql come from the same installation.
        PGBIN="$(dirname "$(readlink -f "$p")")"
        return 0
    fi
    # Debian/Ubuntu do not put the server binaries on PATH.
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb ]] || continue
        if [[ -z $best ]] || [[ "$(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n1)" == "$d" ]]; then
            best="$d"
        fi
    done
    [[ -n $best ]] || return 1
    PGBIN="$best"
}

install_pg() {
    local -a sudo=()
    command -v apt-get >/dev/null 2>&1 ||
        die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found and apt-get is not available. Install the PostgreSQL server and put its bin directory on PATH (or set TXHOOK_PG_BINDIR)."
    if [[ $UID_NOW -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 ||
            die "PostgreSQL server binaries not found; installing them needs root. Run: apt-get install postgresql postgresql-contrib (as root), or set TXHOOK_PG_BINDIR."
        sudo=(sudo)
    fi
    log "PostgreSQL server not found; installing it: apt-get install postgresql postgresql-contrib"
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update >&2 ||
        die "apt-get update failed"
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends -o DPkg::Lock::Timeout=300 postgresql postgresql-contrib >&2 ||
        die "apt-get install postgresql postgresql-contrib failed"
}

# find_pg_bin [noinstall]
find_pg_bin() {
    lookup_pg_bin && return 0
    [[ ${1:-} == noinstall ]] && return 1
    install_pg
    lookup_pg_bin ||
        die "PostgreSQL was installed but initdb is neither on PATH nor in /usr/lib/postgresql/*/bin"
}

# The cluster's on-disk format is tied to a major version: pick the matching
# installation if the cluster already exists.
match_cluster_version() {
    local want have
    [[ -f $DATA/PG_VERSION ]] || return 0
    want="$(head -n1 "$DATA/PG_VERSION")"
    have="$(pg_major_of_bin "$PGBIN" || true)"
    [[ $want == "$have" ]] && return 0
    if [[ -x /usr/lib/postgresql/$want/bin/postgres ]]; then
        PGBIN="/usr/lib/postgresql/$want/bin"
        return 0
    fi
    die "cluster $DATA was created by PostgreSQL $want but $PGBIN is PostgreSQL ${have:-?}. Recreate it: scripts/pg.sh stop $NAME; rm -rf target/pg/$NAME"
}

pgtool() { # <name> -> path of a PostgreSQL program, same installation preferred
    if [[ -x $PGBIN/$1 ]]; then
        printf '%s\n' "$PGBIN/$1"
    elif command -v "$1" >/dev/null 2>&1; then
        command -v "$1"
    else
        return 1
    fi
}

INITDB="" PG_CTL="" PG_ISREADY="" PSQL="" CREATEDB=""
resolve_tools() {
    local miss="not found (looked in $PGBIN and on PATH)"
    INITDB="$(pgtool initdb)" || die "initdb $miss"
    PG_CTL="$(pgtool pg_ctl)" || die "pg_ctl $miss"
    PG_ISREADY="$(pgtool pg_isready)" || die "pg_isready $miss"
    PSQL="$(pgtool psql)" || die "psql $miss"
    CREATEDB="$(pgtool createdb)" || die "createdb $miss"
}

# ---------------------------------------------------------------------------
# Unprivileged server user (only when running as root)

RUN_AS="" # empty: run the server tools as the current user

as_pg() { # run a command as the server user, from a directory it can access
    if [[ -z $RUN_AS ]]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        (cd / && runuser -u "$RUN_AS" -- "$@")
    else
        local cmd
        cmd="$(printf '%q ' "$@")"
        (cd / && su "$RUN_AS" -s /bin/bash -c "$cmd")
    fi
}

choose_run_user() {
    local owner
    [[ $UID_NOW -eq 0 ]] || return 0
    if [[ -n ${TXHOOK_PG_USER:-} ]]; then
        id -u "$TXHOOK_PG_USER" >/dev/null 2>&1 || die "TXHOOK_PG_USER=$TXHOOK_PG_USER does not exist"
        RUN_AS="$TXHOOK_PG_USER"
        return 0
    fi
    # Keep running an existing cluster as whoever owns it.
    if [[ -d $DATA ]]; then
        owner="$(stat -L -c %U "$DATA")"
        if [[ $owner != root && $owner != UNKNOWN ]]; then
            RUN_AS="$owner"
            return 0
        fi
    fi
    if id -u postgres >/dev/null 2>&1; then
        RUN_AS=postgres
        return 0
    fi
    if ! id -u txhook-pg >/dev/null 2>&1; then
        log "creating system user txhook-pg to run PostgreSQL (it refuses to run as root)"
        if command -v useradd >/dev/null 2>&1; then
            useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin --user-group txhook-pg >&2 || true
        elif command -v adduser >/dev/null 2>&1; then
            adduser --system --no-create-home --group txhook-pg >&2 || true
        fi
        id -u txhook-pg >/dev/null 2>&1 ||
            die "could not create system user txhook-pg (no useradd/adduser?); create an unprivileged user and set TXHOOK_PG_USER"
    fi
    RUN_AS=txhook-pg
}

# ---------------------------------------------------------------------------
# Paths

LINK="" # target/pg/<name>
BASE="" # real directory holding data/, sock/, postgres.log
DATA=""
SOCK=""
LOGFILE=""

repo_hash() { printf '%s' "$ROOT" | cksum | cut -d' ' -f1; }

set_paths() {
    LINK="$PG_ROOT/$NAME"
    if [[ -L $LINK ]]; then
        BASE="$(readlink "$LINK")"
    else
        BASE="$LINK"
    fi
    DATA="$BASE/data"
    SOCK="$BASE/sock"
    LOGFILE="$BASE/postgres.log"
}

# /tmp/txhook-pg-<uid>: a private, non-spoofable parent for fallback paths.
tmp_parent() {
    local p="/tmp/txhook-pg-$UID_NOW"
    if [[ -L $p ]] || { [[ -e $p ]] && [[ "$(stat -c %u "$p")" != "$UID_NOW" ]]; }; then
        die "$p exists but is a symlink or not owned by uid $UID_NOW; remove it"
    fi
    mkdir -p "$p"
    chmod 711 "$p" # the server user only needs to traverse it
    printf '%s\n' "$p"
}

can_use_dir() { # can the server user create files in $1?
    # shellcheck disable=SC2016 # $1 is expanded by the inner sh
    as_pg sh -c 'test -d "$1" && test -w "$1" && test -x "$1"' can_use_dir "$1" 2>/dev/null
}

# Create BASE (and the symlink fallback) so that the server user owns it.
prepare_base() {
    local fb
    mkdir -p "$PG_ROOT"
    if [[ -L $LINK && ! -d $BASE ]]; then
        # Fallback location from an earlier run, wiped since (e.g. /tmp at reboot).
        tmp_parent >/dev/null
        mkdir -p "$BASE"
        chmod 700 "$BASE"
    fi
    mkdir -p "$BASE"
    if [[ -n $RUN_AS ]]; then
        if [[ "$(stat -c %U "$BASE")" != "$RUN_AS" ]]; then
            chown -R "$RUN_AS:" "$BASE" 2>/dev/null || true
        fi
        if ! can_use_dir "$BASE"; then
            if [[ -L $LINK ]] || [[ -n "$(ls -A "$BASE")" ]]; then
                die "server user $RUN_AS cannot write to $BASE; fix permissions or remove it"
            fi
            rmdir "$BASE"
            fb="$(tmp_parent)/$NAME-$(repo_hash)"
            mkdir -p "$fb"
            chown "$RUN_AS:" "$fb"
            chmod 700 "$fb"
            ln -s "$fb" "$LINK"
            log "note: user $RUN_AS cannot reach $PG_ROOT (a parent directory is not traversable);"
            log "      cluster data lives in $fb (target/pg/$NAME is a symlink to it)"
            set_paths
            can_use_dir "$BASE" || die "server user $RUN_AS cannot write to $BASE either"
        fi
    fi
    # Unix socket paths are limited to 107 bytes; move the socket to /tmp if needed.
    local sockfile="$BASE/sock/.s.PGSQL.$PORT"
    if [[ ${#sockfile} -gt 100 ]]; then
        fb="$(tmp_parent)/sock-$NAME-$(repo_hash)"
        mkdir -p "$fb"
        [[ -z $RUN_AS ]] || chown "$RUN_AS:" "$fb"
        chmod 700 "$fb"
        if [[ ! -L $BASE/sock ]]; then
            rm -rf "$BASE/sock"
            ln -s "$fb" "$BASE/sock"
        fi
        SOCK="$fb"
    else
        if [[ -L $BASE/sock ]]; then rm -f "$BASE/sock"; fi
        mkdir -p "$SOCK"
        [[ -z $RUN_AS ]] || chown "$RUN_AS:" "$SOCK"
        chmod 700 "$SOCK"
    fi
}

check_ownership_nonroot() {
    local owner
    [[ $UID_NOW -ne 0 && -e $BASE ]] || return 0
    owner="$(stat -L -c %u "$BASE")"
    [[ $owner == "$UID_NOW" ]] ||
        die "$BASE belongs to uid $owner (created by a root run?); use the same user, or remove target/pg/$NAME"
}

lock() {
    mkdir -p "$PG_ROOT"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$PG_ROOT/.$NAME.lock"
        flock -w 300 9 || die "timed out waiting for another pg.sh on cluster $NAME"
    fi
}

# ---------------------------------------------------------------------------
# Server state

pid_file_pid() { # prints the PID recorded in postmaster.pid, if any
    local pid
    [[ -f $DATA/postmaster.pid ]] || return 1
    pid="$(head -n1 "$DATA/postmaster.pid" 2>/dev/null || true)"
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$pid"
}

# Is $1 a postgres process serving this data directory? (guards against PID
# reuse after a crash/reboot, which makes a stale postmaster.pid look alive)
is_our_postgres() {
    local pid="$1" comm cwd real state
    [[ -d /proc/$pid ]] || return 1
    # A kill -9'd postmaster stays a zombie until reaped, which can take a
    # while in containers whose PID 1 is not an init.
    state="$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ -n $state && $state != Z && $state != X ]] || return 1
    comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
    [[ $comm == postgres || $comm == postmaster ]] || return 1
    real="$(readlink -f "$DATA")"
    cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null)" || return 0 # cannot tell: assume ours
    [[ $cwd == "$real" ]]
}

is_running() {
    local pid
    pid="$(pid_file_pid)" || return 1
    is_our_postgres "$pid"
}

running_port() { sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true; }

orphans() { # leftover backends of a killed postmaster, still attached to shared memory
    local real p
    real="$(readlink -f "$DATA")"
    for p in /proc/[0-9]*; do
        [[ "$(readlink "$p/cwd" 2>/dev/null || true)" == "$real" ]] || continue
        [[ "$(cat "$p/comm" 2>/dev/null || true)" == postgres ]] || continue
        printf '%s\n' "${p#/proc/}"
    done
}

recover_stale() {
    local pid left i
    if pid="$(pid_file_pid)" && ! is_our_postgres "$pid"; then
        log "removing stale postmaster.pid (PID $pid is not a running postmaster of this cluster)"
        rm -f "$DATA/postmaster.pid"
    fi
    # Children of a kill -9'd postmaster exit on their own shortly; wait, then
    # kill the ones that did not (they would block the new postmaster).
    for ((i = 0; i < 50; i++)); do
        left="$(orphans)"
        [[ -n $left ]] || break
        ((i > 0)) || log "waiting for leftover server processes to exit: $(echo "$left" | tr '\n' ' ')"
        sleep 0.2
    done
    if [[ -n $left ]]; then
        log "killing leftover server processes: $(echo "$left" | tr '\n' ' ')"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
        sleep 0.5
    fi
    # The socket directory is private: stale sockets/lock files can go.
    rm -f "$SOCK"/.s.PGSQL.* 2>/dev/null || true
}

log_tail() {
    if [[ -f $LOGFILE ]]; then
        log "last lines of $LOGFILE:"
        tail -n 40 "$LOGFILE" >&2 || true
    fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port the kernel also hands out to outgoing connections can be taken at any moment.
warn_ephemeral() {
    local lo hi
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
    if ((PORT >= lo && PORT <= hi)); then
        log "warning: port $PORT is in the ephemeral range $lo-$hi (outgoing connections may take it); prefer a port below $lo"
    fi
}

sql_quote() { printf '%s' "${1//\'/\'\'}"; }

write_conf() { # <datadir>
    local conf="$1/txhook.conf"
    cat >"$conf" <<EOF
# Managed by scripts/pg.sh and rewritten on every start. For your own
# settings use ALTER SYSTEM (postgresql.auto.conf), which takes precedence.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$(sql_quote "$SOCK")'
max_connections = 300
shared_buffers = 128MB
fsync = on
log_min_messages = warning
EOF
    [[ -z $RUN_AS ]] || chown "$RUN_AS:" "$conf"
    chmod 600 "$conf"
}

init_cluster() {
    local tmp="$BASE/data.initdb-tmp"
    if [[ -e $DATA ]]; then
        rmdir "$DATA" 2>/dev/null ||
            die "$DATA exists but is not a PostgreSQL cluster (no PG_VERSION); remove target/pg/$NAME"
    fi
    # initdb into a temporary directory and rename it when complete, so that a
    # run killed during initdb never leaves a half-initialized cluster behind.
    rm -rf "$tmp"
    log "initializing cluster $NAME in $DATA ($("$INITDB" --version))"
    local -a extra=()
    if [[ "$(pg_major_of_bin "$PGBIN" || echo 0)" -ge 13 ]]; then
        extra+=(--no-instructions) # they would name the temporary directory
    fi
    if ! as_pg "$INITDB" -D "$tmp" -U "$DB_USER" --auth=trust \
        --encoding=UTF8 --locale=C ${extra[@]+"${extra[@]}"} >&2; then
        rm -rf "$tmp"
        die "initdb failed"
    fi
    printf "\ninclude_if_exists = 'txhook.conf'\n" >>"$tmp/postgresql.conf"
    mv "$tmp" "$DATA"
}

wait_ready() { # <deadline (epoch seconds)>
    local deadline="$1"
    while :; do
        if "$PG_ISREADY" -q -h "$SOCK" -p "$PORT" -U "$DB_USER" -d postgres; then
            return 0
        fi
        if [[ $(date +%s) -ge $deadline ]]; then
            log "PostgreSQL cluster $NAME not ready after ${READY_TIMEOUT}s"
            log_tail
            exit 1
        fi
        sleep 0.2
    done
}

ensure_db() {
    local exists
    exists="$("$PSQL" -X -q -At -h "$SOCK" -p "$PORT" -U "$DB_USER" -d postgres \
        -c "select 1 from pg_database where datname = '$DB_NAME'")" ||
        die "could not query cluster $NAME"
    if [[ $exists != 1 ]]; then
        log "creating database $DB_NAME"
        "$CREATEDB" -h "$SOCK" -p "$PORT" -U "$DB_USER" "$DB_NAME" >&2 ||
            die "createdb $DB_NAME failed"
    fi
}

url() { printf 'postgres://%s@127.0.0.1:%s/%s\n' "$DB_USER" "$PORT" "$DB_NAME"; }

# ---------------------------------------------------------------------------
# Commands

cmd_start() {
    local deadline rport
    find_pg_bin
    choose_run_user
    lock
    check_ownership_nonroot
    prepare_base
    match_cluster_version
    resolve_tools

    if is_running; then
        rport="$(running_port)"
        if [[ $rport == "$PORT" ]]; then
            wait_ready "$(($(date +%s) + READY_TIMEOUT))"
            ensure_db
            url
            return 0
        fi
        log "cluster $NAME is running on port $rport; restarting it on port $PORT"
        as_pg "$PG_CTL" stop -D "$DATA" -m fast -w -t 60 >&2 9>&-
    fi

    [[ -f $DATA/PG_VERSION ]] || init_cluster
    write_conf "$DATA"
    recover_stale

    if port_busy "$PORT"; then
        die "port 127.0.0.1:$PORT is already in use by another process; pick another port or stop it"
    fi
    warn_ephemeral
    if [[ -f $LOGFILE && $(stat -c %s "$LOGFILE") -gt 52428800 ]]; then
        mv -f "$LOGFILE" "$LOGFILE.old"
    fi

    log "starting PostgreSQL cluster $NAME on 127.0.0.1:$PORT (log: $LOGFILE)"
    deadline=$(($(date +%s) + READY_TIMEOUT))
    # 9>&-: the server must not inherit the lock file descriptor.
    if ! as_pg "$PG_CTL" start -D "$DATA" -l "$LOGFILE" -w -t "$READY_TIMEOUT" \
        >&2 9>&-; then
        log "pg_ctl start failed for cluster $NAME"
        log_tail
        exit 1
    fi
    wait_ready "$deadline"
    ensure_db
    url
}

# cmd_stop [fast|immediate]
cmd_stop() {
    local mode="${1:-fast}"
    if [[ ! -d $DATA ]]; then
        log "cluster $NAME does not exist (nothing to stop)"
        return 0
    fi
    if ! is_running; then
        log "cluster $NAME is not running"
        return 0
    fi
    find_pg_bin noinstall || die "cluster $NAME is running but no PostgreSQL binaries were found to stop it"
    match_cluster_version
    resolve_tools
    choose_run_user
    if [[ $mode == immediate ]]; then
        log "killing cluster $NAME (immediate shutdown)"
    else
        log "stopping cluster $NAME"
    fi
    as_pg "$PG_CTL" stop -D "$DATA" -m "$mode" -w -t 60 >&2
}

cmd_sweep() { # <like pattern>
    local like="$1" names db
    if ! is_running; then
        log "cluster $NAME is not running (nothing to sweep)"
        return 0
    fi
    find_pg_bin noinstall || die "no PostgreSQL binaries found"
    match_cluster_version
    resolve_tools
    PORT="$(running_port)"
    # A socket path too long for the kernel lives in /tmp, with sock/ a symlink to it.
    if [[ -L $SOCK ]]; then SOCK="$(readlink "$SOCK")"; fi
    names="$("$PSQL" -X -q -At -h "$SOCK" -p "$PORT" -U "$DB_USER" -d postgres \
        -c "select datname from pg_database where datname like '$(sql_quote "$like")'")" ||
        die "could not list the databases of cluster $NAME"
    [[ -n $names ]] || return 0
    while IFS= read -r db; do
        # txhook_test_<pid>_…: the tests name their databases after their process; a
        # process still running is using it.
        if [[ $db =~ ^[a-z]+_[a-z]+_([0-9]+)_ ]] && [[ -d /proc/${BASH_REMATCH[1]} ]]; then
            continue
        fi
        log "dropping database $db (left behind by an earlier run)"
        "$PSQL" -X -q -h "$SOCK" -p "$PORT" -U "$DB_USER" -d postgres -v ON_ERROR_STOP=1 \
            -c "drop database if exists \"${db//\"/\"\"}\" with (force)" >&2 ||
            die "could not drop database $db"
    done <<<"$names"
}

cmd_status() {
    local pid
    printf 'cluster: %s\ndata:    %s\n' "$NAME" "$DATA"
    if [[ ! -f $DATA/PG_VERSION ]]; then
        printf 'state:   not created\n'
        return 4
    fi
    if is_running; then
        pid="$(pid_file_pid)"
        PORT="$(running_port)"
        printf 'state:   running (pid %s, PostgreSQL %s, 127.0.0.1:%s)\nurl:     %s\nlog:     %s\n' \
            "$pid" "$(head -n1 "$DATA/PG_VERSION")" "$PORT" "$(url)" "$LOGFILE"
        return 0
    fi
    printf 'state:   stopped\nlog:     %s\n' "$LOGFILE"
    return 3
}

main() {
    [[ $# -ge 2 ]] || usage
    CMD="$1"
    NAME="$2"
    [[ $NAME =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "invalid cluster name: $NAME"
    set_paths
    case "$CMD" in
    start)
        [[ $# -eq 3 ]] || usage
        PORT="$3"
        if ! [[ $PORT =~ ^[1-9][0-9]{0,4}$ ]] || ((PORT > 65535)); then
            die "invalid port: $PORT"
        fi
        cmd_start
        ;;
    stop)
        [[ $# -eq 2 ]] || usage
        cmd_stop
        ;;
    kill)
        [[ $# -eq 2 ]] || usage
        cmd_stop immediate
        ;;
    status)
        [[ $# -eq 2 ]] || usage
        cmd_status
        ;;
    sweep)
        [[ $# -eq 3 ]] || usage
        cmd_sweep "$3"
        ;;
    *) usage ;;
    esac
}

main "$@"
