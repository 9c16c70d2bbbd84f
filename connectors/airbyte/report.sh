#!/usr/bin/env bash
# Which of the pinned Airbyte manifests (packages.txt and report-packages.txt) load in txlake:
# fetches them (fetch.sh) and runs `txlake connectors translate` on each, printing one line a
# package: `loads`, or `refused:` with the first component the translator refuses and where.
#   connectors/airbyte/report.sh [path/to/txlake]   (default: `txlake` on PATH)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
txlake=${1:-txlake}
for pins in "$here/packages.txt" "$here/report-packages.txt"; do
    TXLAKE_AIRBYTE_PACKAGES=$pins "$here/fetch.sh" | while read -r dir; do
        package=$(basename "$dir")
        if out=$("$txlake" connectors translate "$dir/manifest.yaml" 2>&1 >/dev/null); then
            echo "$package: loads"
        else
            # The refusal's sentence naming the component, without the shared advice.
            # The refusal's sentences naming the component, without the shared advice after them.
            reason=$(printf '%s\n' "$out" | head -n 1 | sed -e 's/^.*\(at `\)/\1/' -e 's/ txlake runs an Airbyte manifest only.*$//')
            echo "$package: refused: $reason"
        fi
    done
done
