#!/usr/bin/env bash
# The reference figure of `txlake bench connector --airbyte-cdk`: the same stream read by the
# Airbyte Python CDK (pinned in requirements.txt), against the benchmark's fake API.
#   benches/airbyte_cdk/run.sh BASE_URL TOKEN PAGE_SIZE
# Installs the pinned requirements into a virtualenv (reused when warm); needs no network
# except PyPI on the first run.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${TXLAKE_AIRBYTE_CDK_VENV:-$HOME/.cache/txlake-airbyte-cdk-venv}
stamp=$(sha256sum requirements.txt | cut -c1-64)
if [[ ! -x $VENV/bin/python || "$(cat "$VENV/.requirements-sha256" 2>/dev/null)" != "$stamp" ]]; then
    echo "installing the Airbyte CDK into $VENV (first run only)" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
    echo "$stamp" >"$VENV/.requirements-sha256"
fi
exec "$VENV/bin/python" run.py "$@"
