"""Times DuckDB's read_csv on a CSV, for `txlake bench files` to compare with.

Usage: run.py CSV PARQUET_OUT

Runs, in one in-process DuckDB with its default settings (every core):
  COPY (SELECT * FROM read_csv('CSV')) TO 'PARQUET_OUT' (FORMAT parquet)
which reads, infers types and writes Parquet as a txlake sync does, then
  SELECT count(*) FROM read_csv('CSV')
Prints `rows N`, `copy seconds S`, `count seconds S` and `peak rss mb M` (the process's
maximum resident set, DuckDB included, in 10^6 bytes as txlake prints it).
"""

import os
import resource
import sys
import time

import duckdb


def quoted(path):
    return "'" + path.replace("'", "''") + "'"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    csv, out = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM read_csv({quoted(csv)})) TO {quoted(out)} (FORMAT parquet)")
    copy = time.perf_counter() - started
    started = time.perf_counter()
    rows = con.execute(f"SELECT count(*) FROM read_csv({quoted(csv)})").fetchone()[0]
    count = time.perf_counter() - started
    os.remove(out)
    print(f"rows {rows}")
    print(f"copy seconds {copy:.3f}")
    print(f"count seconds {count:.3f}")
    print(f"peak rss mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
