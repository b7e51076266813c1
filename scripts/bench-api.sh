#!/usr/bin/env bash
# Request-path benchmark (`cueapi bench -api`): the whole service over
# loopback HTTP next to a bare net/http + pgx handler reading the same rows
# over the same pool, on SQLite and PostgreSQL (with Redis when reachable).
# BENCH_PROFILE=1 prints the top entries of a CPU profile of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
PGURL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
REDISURL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/cueapi" ./cmd/cueapi
args=(bench -api -database-url "$PGURL" -redis-url "$REDISURL" -duration "${BENCH_DURATION:-2s}")
[[ -n "${BENCH_STORES:-}" ]] && args+=(-stores "$BENCH_STORES")
[[ -n "${BENCH_PROFILE:-}" ]] && args+=(-cpuprofile "$bin/cpu.pprof")
"$bin/cueapi" "${args[@]}"
if [[ -n "${BENCH_PROFILE:-}" ]]; then
  echo
  echo "CPU profile (whole run, both stores), top 25 by flat time:"
  go tool pprof -top -nodecount=25 "$bin/cueapi" "$bin/cpu.pprof" 2>/dev/null | sed -n '/flat%/,$p'
  echo
  echo "top 25 by cumulative time:"
  go tool pprof -top -cum -nodecount=25 "$bin/cueapi" "$bin/cpu.pprof" 2>/dev/null | sed -n '/flat%/,$p'
fi
