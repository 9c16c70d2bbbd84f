#!/usr/bin/env bash
# The chart and config tests, run by `cargo test --workspace` (tests/e2e/helm.rs) or alone:
#   1. a virtualenv with the pinned helm/requirements.txt (reused when warm)
#   2. helm lint --strict with each helm/txlake/ci/*.yaml
#   3. render with each of them; the production render has every optional resource
#   4. every rendered manifest passes kubernetes-validate --strict (Kubernetes 1.30)
#   5. each helm/txlake/tests/invalid/*.yaml is rejected, naming the bad value
#   6. each render's txlake.toml passes `txlake config check`
# Needs no network except PyPI on the first run. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"
HELM_DIR=$PWD
CHART=txlake
KUBE_VERSION=1.30.0
VENV=${TXLAKE_VENV:-$HOME/.cache/txlake-venv}
TXLAKE_BIN=${TXLAKE_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/txlake-target}/debug/txlake}
start=$SECONDS
passed=0
failed=0
step() { printf '\n== %s\n' "$*"; }
pass() { passed=$((passed + 1)); }
flunk() { failed=$((failed + 1)); }

step "virtualenv $VENV (helm/requirements.txt)"
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "  FAIL python3 3.11 or later is needed (tomllib, helm-python-sdk); found: $(python3 --version 2>&1)"
    exit 1
fi
stamp=$(sha256sum requirements.txt | cut -c1-64)
if [[ ! -x $VENV/bin/python || "$(cat "$VENV/.requirements-sha256" 2>/dev/null)" != "$stamp" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
    echo "$stamp" >"$VENV/.requirements-sha256"
    echo "  installed"
else
    echo "  reused"
fi
PY=$VENV/bin/python
"$PY" -c 'import helm_python as h; print(f"  helm-python-sdk: Helm {h.helm_sdk_version()} (helm-c {h.helm_c_version()})")'
echo "  $("$VENV/bin/kubernetes-validate" --version 2>&1 | head -1)"

OUT=$(mktemp -d "${TMPDIR:-/tmp}/txlake-chart.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
values_files=("$CHART"/ci/*.yaml)

step "lint"
if "$PY" chart_test.py lint "$CHART" "${values_files[@]}"; then pass; else flunk; fi

step "render"
for values in "${values_files[@]}"; do
    if "$PY" chart_test.py render "$CHART" "$values" "$OUT/$(basename "$values" .yaml)"; then pass; else flunk; fi
done
if [[ -d $OUT/production-values ]]; then
    if "$PY" chart_test.py expect "$OUT/production-values" \
        Ingress=1 HorizontalPodAutoscaler=1 PodDisruptionBudget=1 ServiceMonitor=1 NetworkPolicy=2 \
        CronJob=2 ServiceAccount=1 Deployment=1 Service=1 ConfigMap=1 --lake-prefix=s3://; then pass; else flunk; fi
fi
if [[ -d $OUT/persistence-values ]]; then
    if "$PY" chart_test.py expect "$OUT/persistence-values" \
        PersistentVolumeClaim=1 Secret=1 CronJob=1 HorizontalPodAutoscaler=0 PodDisruptionBudget=0 --lake-prefix=file:///data/lake; then pass; else flunk; fi
fi
if [[ -d $OUT/default-values ]]; then
    if "$PY" chart_test.py expect "$OUT/default-values" \
        Deployment=1 Service=1 ConfigMap=1 ServiceAccount=1 PodDisruptionBudget=1 Pod=1 CronJob=0 Ingress=0 --lake-prefix=s3://; then pass; else flunk; fi
fi

step "kubernetes-validate --strict (Kubernetes $KUBE_VERSION)"
for dir in "$OUT"/*/; do
    name=$(basename "$dir")
    core=() crds=()
    for f in "$dir"manifests/*.yaml; do
        # CRDs are not in the Kubernetes schemas: ServiceMonitor is checked below instead.
        if grep -q '^apiVersion: monitoring.coreos.com/' "$f"; then crds+=("$f"); else core+=("$f"); fi
    done
    if report=$("$VENV/bin/kubernetes-validate" --strict --no-warn -k "$KUBE_VERSION" "${core[@]}" 2>&1); then
        echo "  ok   $name: ${#core[@]} manifests valid"
        pass
    else
        echo "  FAIL $name:"
        echo "$report" | grep -v ' PASSED$' | sed 's/^/       /'
        flunk
    fi
    for f in "${crds[@]}"; do
        if "$PY" - "$f" <<'PYEOF'; then pass; else flunk; fi
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
spec = doc["spec"]
problems = []
if doc["kind"] != "ServiceMonitor" or doc["apiVersion"] != "monitoring.coreos.com/v1":
    problems.append(f"unexpected {doc['apiVersion']} {doc['kind']}")
else:
    unknown = set(spec) - {"endpoints", "selector", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels", "sampleLimit"}
    if unknown:
        problems.append(f"unknown spec keys {sorted(unknown)}")
    if not spec.get("selector", {}).get("matchLabels"):
        problems.append("no selector.matchLabels")
    for e in spec.get("endpoints", []):
        if e.get("port") != "http" or e.get("path") != "/metrics":
            problems.append(f"endpoint {e} is not port http, path /metrics")
    if not spec.get("endpoints"):
        problems.append("no endpoints")
name = sys.argv[1].rsplit("/", 1)[-1]
if problems:
    print(f"  FAIL {name}: " + "; ".join(problems)); sys.exit(1)
print(f"  ok   {name}: ServiceMonitor (CRD, not in the Kubernetes schemas) checked by shape: port http, path /metrics, selector")
PYEOF
    done
done

step "invalid values are rejected"
if "$PY" chart_test.py reject "$CHART" "$CHART"/tests/invalid/*.yaml; then pass; else flunk; fi

step "txlake config check on each rendered txlake.toml ($TXLAKE_BIN)"
if [[ ! -x $TXLAKE_BIN ]]; then
    echo "  FAIL no txlake binary at $TXLAKE_BIN: build it first (cargo build -p txlake, or cargo test --workspace), or set TXLAKE_BIN"
    flunk
else
    for dir in "$OUT"/*/; do
        name=$(basename "$dir")
        # Only the variables the config references (dummy values), plus what a process needs.
        mapfile -t vars <"${dir}env"
        if report=$(env -i PATH="$PATH" HOME="$HOME" "${vars[@]}" "$TXLAKE_BIN" config check --config "${dir}txlake.toml" 2>&1); then
            echo "  ok   $name (env: ${vars[*]%%=*})"
            echo "$report" | sed 's/^/       /'
            pass
        else
            echo "  FAIL $name: txlake config check --config txlake.toml (env: ${vars[*]%%=*})"
            echo "$report" | sed 's/^/       /'
            echo "       --- txlake.toml:"
            sed 's/^/       | /' "${dir}txlake.toml"
            flunk
        fi
    done
fi

printf '\nchart tests took %ds\nhelm: %d passed, %d failed\n' "$((SECONDS - start))" "$passed" "$failed"
[[ $failed -eq 0 ]]
