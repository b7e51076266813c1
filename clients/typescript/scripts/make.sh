#!/usr/bin/env bash
# Entry point of the Makefile's generate/ts and test/ts targets.
#   scripts/make.sh generate   regenerate src/schema.ts from openapi.yaml
#   scripts/make.sh test       compile-only types test + node --test suite
# Needs Node.js >= 18.17 (Debian 12 packages 18.20; tested with 18.20 and 20)
# and npm. Without them it prints a SKIP line, or fails
# when CI=true. `npm ci` runs only when package(-lock).json changed since the
# last install.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:?usage: scripts/make.sh generate|test}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1 ||
  ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 17) ? 0 : 1)'; then
  have=$(node --version 2>/dev/null || echo "no node")
  if [ "${CI:-false}" = "true" ]; then
    echo "clients/typescript $what: Node.js >= 18.17 and npm are required under CI=true (found: $have)" >&2
    exit 1
  fi
  echo "SKIP clients/typescript $what: Node.js >= 18.17 and npm not found (found: $have)"
  exit 0
fi

stamp=node_modules/.cueapi-npm-ci
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --prefer-offline
  touch "$stamp"
fi

case "$what" in
  generate)
    node scripts/generate.mjs ../../openapi.yaml src/schema.ts
    ;;
  test)
    rm -rf .test-build
    npm test
    ;;
  *)
    echo "unknown target: $what" >&2
    exit 2
    ;;
esac
