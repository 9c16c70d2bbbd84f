#!/usr/bin/env bash
# Re-copies every vendored file from the npm packages that console/package-lock.json pins, so an
# update is reproducible: change the version in console/package.json, run
#   (cd console && npm install --package-lock-only --ignore-scripts)
#   console/vendor/update.sh
# then paste the sha256 lines it prints into console/vendor/README.md (and its table's
# version), add any new file to the embed list of crates/txlake-server/src/console.rs, and run
# the browser tests (tests/browser/assets.test.js compares every file with its package).
# `npm ci --ignore-scripts` into a temporary folder: no install script runs, nothing is left
# in the repository.
set -euo pipefail
vendor=$(cd "$(dirname "$0")" && pwd)
console=$(dirname "$vendor")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$console/package.json" "$console/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)

# package  file in the package  ->  file under console/vendor/ (as listed in README.md)
files=(
    "uplot dist/uPlot.iife.min.js uplot/uPlot.iife.min.js"
    "uplot dist/uPlot.min.css uplot/uPlot.min.css"
    "uplot LICENSE uplot/LICENSE"
    "@scalar/api-reference dist/browser/standalone.js scalar/standalone.js"
    # @scalar/api-reference ships no LICENSE file; the bundle includes @scalar/api-client,
    # whose LICENSE is the same Scalar MIT text (see README.md).
    "@scalar/api-client LICENSE scalar/LICENSE"
)
for entry in "${files[@]}"; do
    read -r package from to <<<"$entry"
    mkdir -p "$(dirname "$vendor/$to")"
    cp "$work/node_modules/$package/$from" "$vendor/$to"
    echo "$(node -p "require('$work/node_modules/$package/package.json').version") $package/$from -> $to" >&2
done
echo "sha256 (for README.md):" >&2
cd "$vendor"
for entry in "${files[@]}"; do
    read -r _ _ to <<<"$entry"
    sha256sum "$to"
done
