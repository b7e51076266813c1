#!/usr/bin/env bash
# End-to-end delivery benchmark: N one-time cues due at one instant, webhook
# transport to a local sink, on SQLite and PostgreSQL; compared with what
# `pgbench -N -c 8 -j 2 -T 15` reaches against the same PostgreSQL server
# (one single-row-update transaction is the write cost to beat).
set -euo pipefail
cd "$(dirname "$0")/.."
CUES=${BENCH_CUES:-10000}
PGURL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
go run ./cmd/cueapi bench -cues "$CUES" -database-url "$PGURL" | tee "$out"

if ! command -v pgbench >/dev/null; then
  echo "pgbench not installed: no comparison"
  exit 0
fi
# pgbench gets its own database so its tables never mix with anything else.
BENCHDB=cueapi_pgbench
base=${PGURL%%\?*}
admin_url=$PGURL
db_url="${base%/*}/$BENCHDB"
[[ "$PGURL" == *\?* ]] && db_url="$db_url?${PGURL#*\?}"
psql "$admin_url" -qtAc "SELECT 1 FROM pg_database WHERE datname='$BENCHDB'" | grep -q 1 || psql "$admin_url" -qc "CREATE DATABASE $BENCHDB"
pgbench -i -q -s 10 "$db_url" >/dev/null 2>&1
tps=$(pgbench -N -c 8 -j 2 -T 15 "$db_url" 2>/dev/null | awk '/^tps = /{print $3; exit}')
pg=$(awk '$1=="postgres"{print $6; exit}' "$out")
echo
echo "pgbench -N -c 8 -j 2 -T 15: ${tps} tps"
if [[ -n "$pg" && -n "$tps" ]]; then
  awk -v a="$pg" -v b="$tps" 'BEGIN{printf "cueapi on PostgreSQL: %.0f deliveries/s = %.2fx pgbench (target 1.5x)\n", a, a/b}'
fi
