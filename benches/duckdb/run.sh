#!/usr/bin/env bash
# The reference figure of `txlake bench files`: DuckDB's read_csv on the benchmark's CSV.
#   benches/duckdb/run.sh CSV PARQUET_OUT
# Installs the pinned requirements into a virtualenv (reused when warm); needs no network
# except PyPI on the first run.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${TXLAKE_DUCKDB_VENV:-$HOME/.cache/txlake-duckdb-venv}
stamp=$(sha256sum requirements.txt | cut -c1-64)
if [[ ! -x $VENV/bin/python || "$(cat "$VENV/.requirements-sha256" 2>/dev/null)" != "$stamp" ]]; then
    echo "installing DuckDB into $VENV (first run only)" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
    echo "$stamp" >"$VENV/.requirements-sha256"
fi
exec "$VENV/bin/python" run.py "$@"
