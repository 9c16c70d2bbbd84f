#!/usr/bin/env bash
# Downloads the Airbyte source wheels pinned in packages.txt from PyPI (no dependencies, the
# wheel's sha256 checked), extracts each one's manifest.yaml (and its schemas/ folder, which
# JsonFileSchemaLoader reads) into ~/.cache/txlake-airbyte-manifests/<package>-<version>/, and
# prints that folder, one line per package. A folder extracted from the pinned wheel before is
# reused without touching the network.
#   connectors/airbyte/fetch.sh                          # every pinned package
#   connectors/airbyte/fetch.sh airbyte-source-delighted # only these (names as in packages.txt)
# Run once per test run by tests/e2e/airbyte_manifests.rs. Needs python3 (with pip) and PyPI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pins=${TXLAKE_AIRBYTE_PACKAGES:-$here/packages.txt}
cache=${TXLAKE_AIRBYTE_MANIFESTS:-$HOME/.cache/txlake-airbyte-manifests}
mkdir -p "$cache"

wanted() {
    [[ $# -eq 1 ]] && return 0
    local name=$1; shift
    for w in "$@"; do [[ $w == "$name" ]] && return 0; done
    return 1
}

found=0
while read -r pin sha rest; do
    [[ -z ${pin:-} || $pin == \#* ]] && continue
    package=${pin%%==*}
    version=${pin#*==}
    if [[ $package == "$pin" || -z $version || ! $sha =~ ^[0-9a-f]{64}$ || -n ${rest:-} ]]; then
        echo "fetch.sh: $pins: '$pin $sha $rest' is not '<package>==<version> <sha256>'" >&2
        exit 2
    fi
    wanted "$package" "$@" || continue
    found=$((found + 1))
    dir=$cache/$package-$version
    # The stamp names the wheel the folder came from: a changed pin re-extracts.
    if [[ -f $dir/manifest.yaml && "$(cat "$dir/.wheel-sha256" 2>/dev/null)" == "$sha" ]]; then
        echo "$dir"
        continue
    fi
    work=$(mktemp -d "$cache/.fetch-$package.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    echo "$pin --hash=sha256:$sha" >"$work/requirements.txt"
    # --require-hashes: pip refuses a file whose sha256 is not the pinned one.
    python3 -m pip download --quiet --no-deps --only-binary=:all: --no-cache-dir --require-hashes \
        --disable-pip-version-check -r "$work/requirements.txt" -d "$work/wheel" >&2
    wheel=$(find "$work/wheel" -name '*.whl' | head -n 1)
    if [[ -z $wheel ]]; then
        echo "fetch.sh: pip downloaded no wheel for $pin" >&2
        exit 1
    fi
    actual=$(sha256sum "$wheel" | cut -c1-64)
    if [[ $actual != "$sha" ]]; then
        echo "fetch.sh: $wheel has sha256 $actual, packages.txt pins $sha" >&2
        exit 1
    fi
    python3 - "$wheel" "$work/out" <<'PY'
import pathlib, sys, zipfile

wheel, out = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    manifests = [n for n in names if n.count("/") == 1 and n.endswith("/manifest.yaml")]
    if len(manifests) != 1:
        sys.exit(f"fetch.sh: {wheel} holds {len(manifests)} package manifest.yaml files: {manifests}")
    package_dir = manifests[0].split("/")[0]
    out.mkdir(parents=True)
    (out / "manifest.yaml").write_bytes(z.read(manifests[0]))
    prefix = f"{package_dir}/schemas/"
    for name in names:
        if name.startswith(prefix) and not name.endswith("/"):
            rel = pathlib.PurePosixPath(name[len(prefix):])
            if ".." in rel.parts:
                sys.exit(f"fetch.sh: {wheel} has an unsafe path {name}")
            # Both places a manifest's JsonFileSchemaLoader path may resolve to:
            # ./schemas/<x> and ./<package>/schemas/<x> beside manifest.yaml.
            for base in (out / "schemas", out / package_dir / "schemas"):
                target = base / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(name))
PY
    echo "$sha" >"$work/out/.wheel-sha256"
    rm -rf "$dir"
    # A rename, so a concurrent test run never sees a half-extracted folder.
    mv -T "$work/out" "$dir" 2>/dev/null || [[ -f $dir/manifest.yaml ]]
    rm -rf "$work"
    trap - EXIT
    echo "$dir"
done <"$pins"

if [[ $# -gt 0 && $found -ne $# ]]; then
    echo "fetch.sh: some of '$*' are not pinned in $pins" >&2
    exit 2
fi
