#!/usr/bin/env bash
# Installs airbyte-source-faker (pinned with its dependencies in requirements.txt) into a
# virtualenv under ~/.cache keyed by the requirements' hash, and prints the venv's path:
# `connector = "airbyte:$(tests/airbyte_faker/venv.sh)/bin/source-faker"`. Used by
# tests/e2e/airbyte_faker.rs. Reused when warm; needs no network except PyPI on the first
# run. Concurrent callers wait for one install (flock).
set -euo pipefail
cd "$(dirname "$0")"
stamp=$(sha256sum requirements.txt | cut -c1-16)
VENV=${TXLAKE_AIRBYTE_FAKER_VENV:-$HOME/.cache/txlake-airbyte-faker-$stamp}
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [[ ! -x $VENV/bin/source-faker || ! -f $VENV/.installed ]]; then
    echo "installing airbyte-source-faker into $VENV (first run only)" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt >&2
    touch "$VENV/.installed"
fi
echo "$VENV"
