"""``make bench``: every benchmark at its small default size, one after another, then the machine facts.

Each script also runs alone with its size flags (see its docstring, and RESULTS.md for the full sizes):

    python -m benchmarks.run_all                 # a few minutes
    python -m benchmarks.run_all --only read,write
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from benchmarks.harness import print_machine_facts

# Script module and its arguments at the default (small) size.
SCRIPTS: dict[str, list[str]] = {
    "read": [],
    "write": [],
    "transform": [],
    "push": [],
    "sandbox": [],
    "night": ["--scale", "0.01", "--companies", "10"],
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help=f"comma-separated subset of {', '.join(SCRIPTS)}")
    args = p.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(SCRIPTS)
    unknown = [name for name in chosen if name not in SCRIPTS]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}")
    print("# Receivables Sync benchmarks")
    print_machine_facts()
    status = 0
    for name in chosen:
        started = time.perf_counter()
        module = importlib.import_module(f"benchmarks.bench_{name}")
        code = module.main([*SCRIPTS[name], "--quiet-machine"])
        print(f"\n({name}: {time.perf_counter() - started:.0f}s, exit {code})")
        sys.stdout.flush()
        status = status or code
    return status


if __name__ == "__main__":
    raise SystemExit(main())
