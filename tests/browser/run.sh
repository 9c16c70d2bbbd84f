#!/usr/bin/env bash
# The console's browser tests: playwright-core (pinned in package-lock.json) driving Debian's
# chromium against a running `txlake serve`. Run by `cargo test --workspace`
# (tests/e2e/console.rs), or alone against any server:
#   TXLAKE_URL=http://127.0.0.1:8080 TXLAKE_VIEWER_KEY=… TXLAKE_ADMIN_KEY=… tests/browser/run.sh [FILTER]
# FILTER runs only the tests whose file or test name contains it. `run.sh --bench ARGS` runs
# bench.js instead (what `txlake bench console` calls).
# Installs chromium with apt-get when /usr/bin/chromium is missing (as root), and the npm
# packages into a cache dir keyed by the lockfile (reused when warm): no network after that.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [[ ! -x /usr/bin/chromium ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "tests/browser: /usr/bin/chromium is missing; install Debian's chromium first:" >&2
        echo "    sudo apt-get install -y --no-install-recommends chromium" >&2
        exit 2
    fi
    echo "tests/browser: installing Debian's chromium (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends chromium >&2
fi
for tool in node npm; do
    if ! command -v "$tool" >/dev/null; then
        echo "tests/browser: $tool is missing; install Node.js 20 or later with npm" >&2
        exit 2
    fi
done

# `npm ci` of a package folder into a cache dir named by its lockfile's hash; prints the dir.
install_packages() {
    local folder=$1 name=$2 stamp dir
    stamp=$(sha256sum "$folder/package-lock.json" | cut -c1-16)
    dir=${TXLAKE_NPM_CACHE:-$HOME/.cache}/$name-$stamp
    mkdir -p "$(dirname "$dir")"
    # One installer at a time (the e2e test and a developer may start together).
    exec 9>"$dir.lock"
    flock 9
    if [[ ! -f $dir/.installed ]]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        cp "$folder/package.json" "$folder/package-lock.json" "$dir/"
        # --ignore-scripts: no package may fetch a browser or anything else at install time.
        (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
        touch "$dir/.installed"
    fi
    exec 9>&-
    echo "$dir"
}

modules=$(install_packages "$here" txlake-browser-npm)/node_modules
export NODE_PATH=$modules
# The vendored console assets are compared with the npm packages console/package.json pins.
if [[ -f $repo/console/package-lock.json ]]; then
    TXLAKE_CONSOLE_NODE_MODULES=$(install_packages "$repo/console" txlake-console-npm)/node_modules
    export TXLAKE_CONSOLE_NODE_MODULES
fi

if [[ ${1:-} == --bench ]]; then
    shift
    exec node "$here/bench.js" "$@"
fi
exec node "$here/run.js" "$@"
