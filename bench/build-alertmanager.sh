#!/usr/bin/env bash
# Builds a real Alertmanager release from its Go module source into OUT.
#   bench/build-alertmanager.sh v0.35.0 .tools/bin/alertmanager-v0.35.0
#
# `go install github.com/prometheus/alertmanager/cmd/alertmanager@v0.35.0`
# fails for releases after 0.28 ("pattern app/dist: no matching files
# found"): the web UI's built assets are embedded from ui/app/dist, which
# the module does not ship. So: copy the module source, give it a UI
# directory holding one placeholder page, and build. Everything alertgate
# talks to (the v2 API, webhooks, /-/ready, /metrics) is unaffected; only
# the browser UI at / shows the placeholder. Releases that ship their
# assets (0.28 and older) are built as they are.
set -euo pipefail
version=${1:?usage: build-alertmanager.sh VERSION OUT}
out=${2:?usage: build-alertmanager.sh VERSION OUT}
go=${GO:-go}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# Outside any module, so the download touches no go.mod.
src=$(cd "$work" && GOFLAGS=-mod=mod "$go" mod download -json "github.com/prometheus/alertmanager@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
[ -d "$src" ] || { echo "build-alertmanager: module source of $version not found" >&2; exit 1; }
cp -R "$src/." "$work/src"
chmod -R u+w "$work/src"
if [ ! -e "$work/src/ui/app/dist" ]; then
  mkdir -p "$work/src/ui/app/dist"
  printf '<!doctype html><title>Alertmanager %s</title><p>Built from the Go module source without its web UI; the API is complete.</p>\n' "$version" >"$work/src/ui/app/dist/index.html"
fi
mkdir -p "$(dirname "$out")"
cd "$work/src"
CGO_ENABLED=0 GOFLAGS=-mod=mod "$go" build -trimpath \
  -ldflags "-X github.com/prometheus/common/version.Version=${version#v} -X github.com/prometheus/common/version.Revision=module-source" \
  -o "$out.tmp" ./cmd/alertmanager
mv "$out.tmp" "$out"
