"""Reads the benchmark's stream with the Airbyte Python CDK and reports its records/s.

Usage: run.py BASE_URL TOKEN PAGE_SIZE

Runs `source-declarative-manifest read` on manifest.yaml against the fake API that
`txlake bench connector --airbyte-cdk` serves, counts the RECORD messages on its stdout as
they come, and times from the first record to the last, so the CDK's start-up (imports,
manifest parsing) does not count against it. Prints `records N`, `seconds S`, `records/s R`,
`cpu seconds C` (user + system time of the CDK process), `peak rss bytes B` (the CDK
process's) and `checksum H` (of the records read, see `checksum`).
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def checksum(lines) -> str:
    """FNV-1a (64 bit) over the records' key fields, one line each in id order, so
    `txlake bench connector --airbyte-manifest` can tell whether both engines read the same
    records (it computes the same over its table)."""
    rows = []
    for line in lines:
        r = json.loads(line)["record"]["data"]
        score = "" if r.get("score") is None else str(r["score"])
        active = "true" if r["is_active"] else "false"
        rows.append((r["id"], f'{r["id"]}|{r["uuid"]}|{r["email"]}|{r["quantity"]}|{score}|{r["address"]["city"]}|{active}|{r["amount"]:.4f}'))
    rows.sort()
    h = 0xCBF29CE484222325
    for _, row in rows:
        for byte in (row + "\n").encode():
            h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, token, page_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    here = os.path.dirname(os.path.abspath(__file__))
    catalog = {
        "streams": [
            {
                "stream": {"name": "events", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                "sync_mode": "full_refresh",
                "destination_sync_mode": "overwrite",
            }
        ]
    }
    with tempfile.TemporaryDirectory() as tmp:
        config_path = os.path.join(tmp, "config.json")
        catalog_path = os.path.join(tmp, "catalog.json")
        with open(config_path, "w") as f:
            json.dump({"base_url": base_url, "token": token, "page_size": page_size}, f)
        with open(catalog_path, "w") as f:
            json.dump(catalog, f)
        command = [
            os.path.join(os.path.dirname(sys.executable), "source-declarative-manifest"),
            "read",
            "--config", config_path,
            "--catalog", catalog_path,
            "--manifest-path", os.path.join(here, "manifest.yaml"),
        ]
        records, first, last, errors, lines = 0, None, None, [], []
        with subprocess.Popen(command, stdout=subprocess.PIPE, bufsize=1 << 20) as cdk:
            for line in cdk.stdout:
                if line.startswith(b'{"type":"RECORD"'):
                    records += 1
                    lines.append(line)
                    last = time.perf_counter()
                    if first is None:
                        first = last
                elif b'"level":"ERROR"' in line or b'"type":"TRACE"' in line:
                    errors.append(line.decode(errors="replace").strip())
            status = cdk.wait()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0 or records == 0:
        print(f"the Airbyte CDK read failed (exit {status}, {records} records)", file=sys.stderr)
        for line in errors[-5:]:
            print(line[:500], file=sys.stderr)
        return 1
    seconds = (last - first) if records > 1 else 0.0
    print(f"records {records}")
    print(f"seconds {seconds:.2f}")
    print(f"records/s {records / seconds if seconds > 0 else 0:.0f}")
    print(f"cpu seconds {usage.ru_utime + usage.ru_stime:.2f}")
    # ru_maxrss is in KiB on Linux: the largest child, the CDK's process.
    print(f"peak rss bytes {usage.ru_maxrss * 1024}")
    print(f"checksum {checksum(lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
