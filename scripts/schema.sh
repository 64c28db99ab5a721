#!/usr/bin/env bash
# schema.sql: the current database schema in one file, generated from migrations/.
#
# Usage: scripts/schema.sh           # regenerate schema.sql (commit it with the migration)
#        scripts/schema.sh --check   # exit 1 when schema.sql differs from what migrations/
#                                    # produce (scripts/test.sh runs this)
#
# It applies every migrations/*.sql in order (each in one transaction, as sqlx does) to a new
# empty database, dumps the schema (pg_dump --schema-only --no-owner --no-privileges), drops
# the database, and normalises the dump so it is stable: no version header, no SET lines, no
# \restrict keys, and none of the monthly partitions events_YYYY_MM, which depend on the day
# the migrations ran. The migrations stay the source of truth (deployed databases have applied
# them); schema.sql is only there to be read.
#
# The database: DATABASE_URL when set (a role that may create databases; pg_dump must be at
# least the server's version), else the private cluster "test" of scripts/test.sh
# (127.0.0.1:15433, TXHOOK_TEST_PG_PORT). The dump's details vary a little between
# PostgreSQL major versions: the header of schema.sql names the one that generated it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'schema.sh: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

check=0
case "${1:-}" in
"") ;;
--check) check=1 ;;
*)
    echo "usage: scripts/schema.sh [--check]" >&2
    exit 2
    ;;
esac

if [[ -n ${DATABASE_URL:-} ]]; then
    admin="$DATABASE_URL"
else
    admin="$(bash scripts/pg.sh start test "${TXHOOK_TEST_PG_PORT:-15433}")"
fi

tool() { # <name>: a PostgreSQL client program, from PATH or Debian's server directories
    local p
    if p="$(command -v "$1" 2>/dev/null)"; then
        printf '%s\n' "$p"
        return 0
    fi
    p="$(printf '%s\n' /usr/lib/postgresql/*/bin/"$1" | sort -V | tail -n1)"
    [[ -x $p ]] || die "$1 not found (apt-get install postgresql-client)"
    printf '%s\n' "$p"
}
PSQL="$(tool psql)"
PG_DUMP="$(tool pg_dump)"

# Named like the tests' databases, so that scripts/pg.sh sweep drops it if this run dies.
db="txhook_test_$$_schema"
url="${admin%%\?*}"
query="${admin#"$url"}"
url="${url%/*}/$db$query"
psql_admin() { PGOPTIONS="-c client_min_messages=warning" "$PSQL" -X -q -v ON_ERROR_STOP=1 "$admin" "$@"; }
cleanup() { psql_admin -c "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql_admin -c "drop database if exists \"$db\" with (force)" -c "create database \"$db\"" >/dev/null ||
    die "could not create database $db"

for migration in migrations/*.sql; do
    single=(--single-transaction)
    # sqlx runs a migration whose first line is `-- no-transaction` outside a transaction.
    if head -n1 "$migration" | grep -q '^-- no-transaction'; then single=(); fi
    PGOPTIONS="-c client_min_messages=warning" "$PSQL" -X -q -v ON_ERROR_STOP=1 \
        ${single[@]+"${single[@]}"} -f "$migration" "$url" >/dev/null ||
        die "$migration failed"
done

major="$("$PSQL" -X -At "$url" -c "show server_version_num")"
major=$((major / 10000))
generated="$(mktemp)"
trap 'cleanup; rm -f "$generated"' EXIT
{
    cat <<EOF
-- The current schema of txhook's database, generated from migrations/ by scripts/schema.sh
-- (PostgreSQL $major). Do not edit: after adding a migration run \`scripts/schema.sh\` and
-- commit this file with it; CI fails when the two disagree. The monthly partitions of
-- events (events_YYYY_MM) are left out: txhook creates them as the months come.
EOF
    "$PG_DUMP" --schema-only --no-owner --no-privileges \
        --exclude-table='public.events_[0-9][0-9][0-9][0-9]_[0-9][0-9]' "$url" |
        sed -e '/^-- Dumped from database version/d' -e '/^-- Dumped by pg_dump version/d' \
            -e '/^SET [a-z_]* = /d' -e '/^SELECT pg_catalog.set_config(/d' \
            -e '/^\\restrict /d' -e '/^\\unrestrict /d' |
        # the "PostgreSQL database dump (complete)" banners, each between two "--" lines
        awk '{ l[NR] = $0 }
             END { for (i = 1; i <= NR; i++) {
                       if (l[i] ~ /^-- PostgreSQL database dump/) continue
                       if (l[i] == "--" && (l[i-1] ~ /^-- PostgreSQL database dump/ ||
                                            l[i+1] ~ /^-- PostgreSQL database dump/)) continue
                       print l[i] } }' |
        cat -s | sed '${/^$/d}'
} >"$generated" || die "pg_dump failed"

if ((check)); then
    if ! diff -u schema.sql "$generated" >&2; then
        say "schema.sql does not match migrations/ (diff above: - committed, + generated)."
        say "Regenerate it and commit it with the migration:  scripts/schema.sh"
        if ! grep -q "^-- (PostgreSQL $major)" schema.sql; then
            say "note: schema.sql was generated with another PostgreSQL major version than this"
            say "server's ($major); pg_dump's output differs a little between them"
        fi
        exit 1
    fi
    say "schema.sql matches migrations/"
else
    mv -f "$generated" schema.sql
    chmod 644 schema.sql
    say "wrote schema.sql"
fi
