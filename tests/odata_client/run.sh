#!/usr/bin/env bash
# Drives a running txlake OData feed with python-odata, an OData v4 client library from PyPI
# that knows nothing of txlake: it reads $metadata, builds its entity classes from it, and
# follows @odata.nextLink on its own. Run by `cargo test --workspace` (tests/e2e/odata.rs), or
# alone against any server:
#   TXLAKE_ODATA_URL=http://127.0.0.1:8080/odata TXLAKE_KEY=… tests/odata_client/run.sh
# Installs its pinned requirements into a virtualenv (reused when warm); needs no network
# except PyPI on the first run.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${TXLAKE_ODATA_VENV:-$HOME/.cache/txlake-odata-venv}
stamp=$(sha256sum requirements.txt | cut -c1-64)
if [[ ! -x $VENV/bin/python || "$(cat "$VENV/.requirements-sha256" 2>/dev/null)" != "$stamp" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
    echo "$stamp" >"$VENV/.requirements-sha256"
fi
exec "$VENV/bin/python" client_test.py
