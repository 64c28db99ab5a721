#!/usr/bin/env bash
# Writes the secrets docker compose needs into .env (git-ignored; compose reads it after
# .env.example): a random TXHOOK_SHARED_KEY and TXHOOK_ADMIN_TOKEN, 32 bytes each in hex.
# `txhook serve` refuses the placeholders of .env.example, so run this once before
# `docker compose up`. A value .env already sets is kept.
#
# Usage: scripts/compose-env.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

(umask 077 && touch .env)
# A last line without its newline would run into the first one added.
if [[ -s .env && -n $(tail -c 1 .env) ]]; then echo >>.env; fi
for var in TXHOOK_SHARED_KEY TXHOOK_ADMIN_TOKEN; do
    if grep -q "^$var=." .env; then
        printf 'compose-env.sh: %s kept from .env\n' "$var" >&2
        continue
    fi
    value="$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"
    [[ $value =~ ^[0-9a-f]{64}$ ]] || { printf 'compose-env.sh: could not read /dev/urandom\n' >&2; exit 1; }
    printf '%s=%s\n' "$var" "$value" >>.env
    printf 'compose-env.sh: %s written to .env\n' "$var" >&2
done
