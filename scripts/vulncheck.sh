#!/usr/bin/env bash
# govulncheck against an offline copy of the Go vulnerability database: the
# module golang.org/x/vulndb (served by the Go module proxy) carries the OSV
# files; cmd/indexdb turns them into a database govulncheck reads from disk.
# Fails when code we call is affected through a third-party module; findings
# in the standard library are printed as warnings (they are fixed by building
# with a newer Go release, see SECURITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."
VULNDB_VERSION=${VULNDB_VERSION:?}
dir=$(go mod download -json "golang.org/x/vulndb@${VULNDB_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
bin/indexdb -vulns "$dir/data/osv" -out "$db"
out=$(mktemp)
bin/govulncheck -db "file://$db" -format json ./... > "$out" || true
python3 - "$out" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
dec, i, called = json.JSONDecoder(), 0, {}
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    obj, i = dec.raw_decode(text, i)
    f = obj.get("finding")
    if f and f.get("trace") and f["trace"][0].get("function"):
        called.setdefault(f["trace"][0].get("module", "?"), set()).add(f["osv"])
std = sorted(called.pop("stdlib", set()))
if std:
    print("warning: standard-library vulnerabilities reachable with this Go release (fixed by upgrading Go):", ", ".join(std))
if called:
    for mod, ids in sorted(called.items()):
        print("VULNERABLE:", mod, ", ".join(sorted(ids)))
    sys.exit(1)
print("govulncheck: no reachable vulnerabilities in third-party modules")
PY
