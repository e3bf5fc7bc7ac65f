#!/bin/sh
# Build the browser extension packages from extension/ (one source for Chromium and Firefox):
#   dist/crm-agent-chromium.zip  extension/ as it is (manifest with the fixed `key`), minus tests
#   dist/crm-agent-firefox.zip   the same files with a generated Firefox manifest (scripts/firefox-manifest.js)
# The unpacked trees are left in build/extension-chromium and build/extension-firefox (web-ext lint reads the latter).
# Usage: scripts/build-extension.sh [--firefox-dir-only]
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

stage() { # stage <dir>: copy the extension's runtime files, nothing for development
  rm -rf "$1"
  mkdir -p "$1"
  (cd extension && find . -type f \
      ! -path './test/*' ! -path './node_modules/*' ! -name '*.pem' ! -name '.*' ! -name 'package*.json' ! -name '*.md' \
      -print | while read -r file; do
        mkdir -p "$root/$1/$(dirname "$file")"
        cp "$file" "$root/$1/$file"
      done)
}

stage build/extension-firefox
node scripts/firefox-manifest.js extension/manifest.json build/extension-firefox/manifest.json
[ "${1:-}" = "--firefox-dir-only" ] && exit 0

stage build/extension-chromium
mkdir -p dist
rm -f dist/crm-agent-chromium.zip dist/crm-agent-firefox.zip
# -X: no extra file attributes; sorted names so two builds of the same source give the same listing
(cd build/extension-chromium && find . -type f | sort | zip -qX "$root/dist/crm-agent-chromium.zip" -@)
(cd build/extension-firefox && find . -type f | sort | zip -qX "$root/dist/crm-agent-firefox.zip" -@)
echo "dist/crm-agent-chromium.zip: $(unzip -Z1 dist/crm-agent-chromium.zip | wc -l) files, $(wc -c < dist/crm-agent-chromium.zip) bytes"
echo "dist/crm-agent-firefox.zip:  $(unzip -Z1 dist/crm-agent-firefox.zip | wc -l) files, $(wc -c < dist/crm-agent-firefox.zip) bytes"
