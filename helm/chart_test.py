"""Chart checks for helm/test.sh, on the Helm v4 library (helm-python-sdk): no helm binary.

    python chart_test.py lint CHART VALUES...            helm lint --strict with each values file
    python chart_test.py render CHART VALUES OUT         render, split into OUT/manifests/*.yaml,
                                                         write OUT/txlake.toml and OUT/env, check policy
    python chart_test.py expect OUT KIND=N... [--lake-prefix P]
    python chart_test.py reject CHART VALUES...          each must fail with its `# expect:` text

Every command prints what it checked and exits 1 on the first kind of failure it finds.
"""

from __future__ import annotations

import collections
import pathlib
import re
import sys
import tomllib

import helm_python as helm
import yaml

RELEASE = "ci"
NAMESPACE = "txlake-ci"
KUBE_VERSION = "v1.30.0"
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def fail(message: str) -> None:
    print(f"  FAIL {message}")
    raise SystemExit(1)


def load_values(path: str) -> dict:
    return yaml.safe_load(pathlib.Path(path).read_text()) or {}


def lint(chart: str, values_files: list[str]) -> None:
    failed = False
    for path in values_files:
        report = helm.lint(chart, load_values(path), strict=True, kube_version=KUBE_VERSION)
        problems = [m for m in report.get("messages") or [] if m.get("severity", 0) >= 2]
        problems += [{"severity": 3, "path": "", "error": e} for e in report.get("errors") or []]
        infos = [m for m in report.get("messages") or [] if m.get("severity", 0) < 2]
        if problems:
            failed = True
            print(f"  FAIL lint {path}")
            for m in problems:
                print(f"       [{'warning' if m['severity'] == 2 else 'error'}] {m.get('path', '')}: {m['error']}")
        else:
            note = f" ({len(infos)} info: {'; '.join(m['error'] for m in infos)})" if infos else ""
            print(f"  ok   lint --strict {path}{note}")
    if failed:
        raise SystemExit(1)


def render_docs(chart: str, values: dict) -> tuple[list[tuple[str, dict]], str]:
    """The rendered manifests as (template, document) and NOTES.txt."""
    with helm.Chart.load(chart) as c:
        rendered = c.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs: list[tuple[str, dict]] = []
    notes = ""
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            notes = text
            continue
        if not template.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append((template, doc))
    return docs, notes


def pod_specs(doc: dict) -> list[dict]:
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "Pod":
        return [spec]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return [spec["template"]["spec"]]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def check_policy(docs: list[tuple[str, dict]]) -> list[str]:
    """The restricted Pod Security profile and the chart's own promises, per workload."""
    problems = []
    for _, doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        for pod in pod_specs(doc):
            psc = pod.get("securityContext") or {}
            if not psc.get("runAsNonRoot"):
                problems.append(f"{name}: pod securityContext.runAsNonRoot is not true")
            if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append(f"{name}: pod seccompProfile is not RuntimeDefault")
            if pod.get("automountServiceAccountToken") is not False:
                problems.append(f"{name}: automountServiceAccountToken is not false")
            for container in pod.get("containers", []) + pod.get("initContainers", []):
                where = f"{name} container {container['name']}"
                sc = container.get("securityContext") or {}
                if sc.get("allowPrivilegeEscalation") is not False:
                    problems.append(f"{where}: allowPrivilegeEscalation is not false")
                if sc.get("readOnlyRootFilesystem") is not True:
                    problems.append(f"{where}: readOnlyRootFilesystem is not true")
                if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                    problems.append(f"{where}: capabilities do not drop ALL")
                if not (container.get("resources") or {}).get("requests"):
                    problems.append(f"{where}: no resource requests")
                if ":" not in container.get("image", "") or container["image"].endswith(":"):
                    problems.append(f"{where}: image {container.get('image')!r} has no tag")
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            txlake = pod["containers"][0]
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
                got = ((txlake.get(probe) or {}).get("httpGet") or {}).get("path")
                if got != path:
                    problems.append(f"{name}: {probe} is not GET {path} (got {got})")
            annotations = doc["spec"]["template"]["metadata"].get("annotations") or {}
            if "checksum/config" not in annotations:
                problems.append(f"{name}: no checksum/config pod annotation (a config change would not roll the pods)")
            env = {e["name"]: e.get("value") for e in txlake.get("env", [])}
            if env.get("TXLAKE_LOG_FORMAT") != "json":
                problems.append(f"{name}: TXLAKE_LOG_FORMAT is not json")
            mounts = {m["mountPath"] for m in txlake.get("volumeMounts", [])}
            if not {"/etc/txlake", "/tmp"} <= mounts:
                problems.append(f"{name}: /etc/txlake and /tmp are not both mounted (got {sorted(mounts)})")
        if doc["kind"] == "CronJob":
            spec = doc["spec"]
            if spec.get("concurrencyPolicy") != "Forbid":
                problems.append(f"{name}: concurrencyPolicy is not Forbid")
            args = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0].get("args", [])
            connection = doc["metadata"]["labels"].get("txlake.io/connection")
            if args != ["sync", "--config", "/etc/txlake/txlake.toml", connection]:
                problems.append(f"{name}: args {args} are not `sync --config /etc/txlake/txlake.toml {connection}`")
    return problems


def strings(value) -> list[str]:
    """Every string value in a parsed TOML document (where txlake expands ${VAR})."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def render(chart: str, values_file: str, out: str) -> None:
    values = load_values(values_file)
    docs, notes = render_docs(chart, values)
    again, _ = render_docs(chart, values)
    if docs != again:
        fail(f"{values_file}: two renders differ (the chart is not deterministic)")
    out_dir = pathlib.Path(out)
    manifests = out_dir / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    kinds = collections.Counter()
    toml = None
    secret_env: dict[str, str] = {}
    for i, (template, doc) in enumerate(docs):
        kind, name = doc["kind"], doc["metadata"]["name"]
        kinds[kind] += 1
        (manifests / f"{i:02d}-{kind.lower()}-{name}.yaml").write_text(
            f"# Source: {template}\n" + yaml.safe_dump(doc, sort_keys=False)
        )
        if kind == "ConfigMap" and "txlake.toml" in (doc.get("data") or {}):
            toml = doc["data"]["txlake.toml"]
        if kind == "Secret":
            secret_env.update({k: str(v) for k, v in (doc.get("stringData") or {}).items()})
    if toml is None:
        fail(f"{values_file}: no ConfigMap with txlake.toml")
    (out_dir / "txlake.toml").write_text(toml)
    (out_dir / "NOTES.txt").write_text(notes)
    # The environment `txlake config check` needs: the chart's own Secret where it has the
    # variable, a dummy value otherwise (a 64-hex one for key hashes).
    try:
        parsed = tomllib.loads(toml)
    except tomllib.TOMLDecodeError as e:
        fail(f"{values_file}: the rendered txlake.toml is not TOML: {e}")
    env_lines = []
    for var in sorted({m.group(1) for s in strings(parsed) for m in ENV_REF.finditer(s) if not m.group(2)}):
        value = secret_env.get(var) or ("ab" * 32 if var.endswith("SHA256") else f"ci-dummy-{var.lower()}")
        env_lines.append(f"{var}={value}")
    (out_dir / "env").write_text("".join(line + "\n" for line in env_lines))
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(f"  ok   render {values_file}: {len(docs)} manifests ({summary}), deterministic")
    problems = check_policy(docs)
    if problems:
        for p in problems:
            print(f"  FAIL policy {values_file}: {p}")
        raise SystemExit(1)
    print(f"  ok   policy {values_file}: restricted securityContext, requests and tagged images on every container; probes, checksum, json logs; CronJobs Forbid + `txlake sync <name>`")
    if not notes.strip():
        fail(f"{values_file}: empty NOTES.txt")


def expect(out: str, wanted: list[str]) -> None:
    out_dir = pathlib.Path(out)
    kinds = collections.Counter()
    for path in sorted((out_dir / "manifests").glob("*.yaml")):
        kinds[yaml.safe_load(path.read_text())["kind"]] += 1
    lake_prefix = None
    failed = False
    for item in wanted:
        if item.startswith("--lake-prefix="):
            lake_prefix = item.split("=", 1)[1]
            continue
        kind, n = item.split("=")
        ok = kinds[kind] == int(n)
        failed |= not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {out_dir.name}: {n} {kind} (got {kinds[kind]})")
    if lake_prefix is not None:
        text = (out_dir / "txlake.toml").read_text()
        match = re.search(r'^\[lake\]\nurl = "([^"]*)"', text, re.M)
        url = match.group(1) if match else None
        ok = bool(url and url.startswith(lake_prefix))
        failed |= not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {out_dir.name}: ConfigMap lake url starts with {lake_prefix} (got {url})")
    if failed:
        raise SystemExit(1)


def reject(chart: str, values_files: list[str]) -> None:
    failed = False
    with helm.Chart.load(chart) as c:
        for path in values_files:
            text = pathlib.Path(path).read_text()
            match = re.search(r"^# expect: (.+)$", text, re.M)
            if not match:
                fail(f"{path}: no `# expect: <text of the error>` line")
            expected = match.group(1).strip()
            try:
                c.render(yaml.safe_load(text) or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
            except helm.HelmError as e:
                message = str(e)
                first = " ".join(line.strip() for line in message.splitlines() if line.strip())
                if expected in message:
                    print(f"  ok   rejected {path}: {first[:200]}")
                else:
                    failed = True
                    print(f"  FAIL {path} was rejected, but the message does not name {expected!r}: {first}")
                continue
            failed = True
            print(f"  FAIL {path} rendered; the schema or the chart should reject it ({expected!r})")
    if failed:
        raise SystemExit(1)


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        print(__doc__)
        raise SystemExit(2)
    command, args = argv[1], argv[2:]
    if command == "lint":
        lint(args[0], args[1:])
    elif command == "render":
        render(*args)
    elif command == "expect":
        expect(args[0], args[1:])
    elif command == "reject":
        reject(args[0], args[1:])
    else:
        print(__doc__)
        raise SystemExit(2)


if __name__ == "__main__":
    main(sys.argv)
