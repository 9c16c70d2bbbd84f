#!/usr/bin/env bash
# Validates an OpenAPI document with openapi-spec-validator, a validator from PyPI that knows
# nothing of txlake (nor of utoipa, which generates ours): the document against the OpenAPI
# 3.x schema plus the rules a schema cannot express (unique operationIds, path parameters
# declared, resolvable $refs). Run by `cargo test --workspace` (tests/e2e/openapi.rs), or alone:
#   tests/openapi_validator/run.sh [FILE]     (default: the committed openapi/openapi.json)
# Installs its pinned requirements into a virtualenv (reused when warm); needs no network
# except PyPI on the first run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
document=$(realpath "${1:-$here/../../openapi/openapi.json}")
cd "$here"
VENV=${TXLAKE_OPENAPI_VENV:-$HOME/.cache/txlake-openapi-venv}
stamp=$(sha256sum requirements.txt | cut -c1-64)
if [[ ! -x $VENV/bin/python || "$(cat "$VENV/.requirements-sha256" 2>/dev/null)" != "$stamp" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
    echo "$stamp" >"$VENV/.requirements-sha256"
fi
"$VENV/bin/openapi-spec-validator" --version
exec "$VENV/bin/openapi-spec-validator" --validation-errors all "$document"
