#!/usr/bin/env bash
# Builds the container image with podman (or docker).
#   IMAGE_FROM=source   (default) Containerfile: compiles inside a golang image
#   IMAGE_FROM=prebuilt Containerfile.prebuilt: compiles here, FROM scratch
#                       (no registry needed)
# Either way the static binary the image contains is checked first:
# `cueapi version` and `cueapi serve --help` must succeed, and it must not be
# dynamically linked.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-cueapi:latest}
IMAGE_FROM=${IMAGE_FROM:-source}
VERSION=${VERSION:-$(git describe --tags --exact-match 2>/dev/null || { r=$(git rev-parse --short=12 HEAD 2>/dev/null) && echo "1.0.0+$r"; } || true)}
ENGINE=${ENGINE:-}
if [[ -z "$ENGINE" ]]; then
  for e in podman docker; do
    if command -v "$e" >/dev/null 2>&1 && "$e" info >/dev/null 2>&1; then ENGINE=$e; break; fi
  done
fi

ctx=bin/image
rm -rf "$ctx" && mkdir -p "$ctx/data"
echo "== static binary (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/cueapi/cueapi/core.buildVersion=${VERSION}" -o "$ctx/cueapi" ./cmd/cueapi
if command -v file >/dev/null 2>&1; then
  file "$ctx/cueapi" | grep -q "statically linked" || { file "$ctx/cueapi"; echo "not a static binary"; exit 1; }
fi
"$ctx/cueapi" version
env -i "$ctx/cueapi" serve --help >/dev/null
env -i "$ctx/cueapi" healthcheck --help >/dev/null
echo "binary ok: $(du -h "$ctx/cueapi" | cut -f1)"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"

if [[ -z "$ENGINE" ]]; then
  echo "no working podman or docker: the image was not built (the binary above is what it would contain)"
  exit "${IMAGE_REQUIRED:-1}"
fi
echo "== $ENGINE build ($IMAGE_FROM) -> $IMAGE"
fmt=()
[[ "$ENGINE" == podman ]] && fmt=(--format docker) # keeps HEALTHCHECK (OCI has none)
if [[ "$IMAGE_FROM" == prebuilt ]]; then
  build=("$ENGINE" build "${fmt[@]}" -f Containerfile.prebuilt -t "$IMAGE" "$ctx")
else
  build=("$ENGINE" build "${fmt[@]}" -f Containerfile --build-arg VERSION="$VERSION" -t "$IMAGE" .)
fi
if ! "${build[@]}"; then
  echo "image: NOT built ($ENGINE build failed; offline? try IMAGE_FROM=prebuilt)"
  exit "${IMAGE_REQUIRED:-1}"
fi
echo "image: built $IMAGE"
"$ENGINE" image inspect "$IMAGE" --format '{{.Config.User}} {{.Config.Entrypoint}} {{.Config.Volumes}}' 2>/dev/null || true
