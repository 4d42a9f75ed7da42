#!/usr/bin/env bash
# Refresh the page's vendored JavaScript from the npm registry at the pinned versions.
# The page needs no Node at run time: htm's "preact/standalone" build is one ES module
# holding Preact 10, its hooks and htm. Run it after changing a version below, then commit
# quorum/web/static/vendor/ (the files, their licences and VERSIONS).
set -euo pipefail
HTM_VERSION=3.1.1
PREACT_VERSION=10.5.13  # the Preact that htm's standalone build embeds; only its licence is taken

cd "$(dirname "$0")/.."
out=quorum/web/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "htm@$HTM_VERSION" "preact@$PREACT_VERSION" >/dev/null)
mkdir -p "$work/htm" "$work/preact" "$out"
tar -xzf "$work/htm-$HTM_VERSION.tgz" -C "$work/htm"
tar -xzf "$work/preact-$PREACT_VERSION.tgz" -C "$work/preact"
cp "$work/htm/package/preact/standalone.module.js" "$out/htm-preact-standalone.js"
cp "$work/htm/package/LICENSE" "$out/LICENSE-htm.txt"
cp "$work/preact/package/LICENSE" "$out/LICENSE-preact.txt"
{
  echo "htm $HTM_VERSION (preact/standalone.module.js: Preact 10 + hooks + htm), Apache-2.0"
  echo "preact $PREACT_VERSION (licence only), MIT"
  (cd "$out" && sha256sum htm-preact-standalone.js)
} > "$out/VERSIONS"
echo "vendored into $out"
