"""Acks under faults, and actions lost: the figures of ``tests/test_faults.py`` for every fault at once.

Each fault runs ``paperbot serve --http`` in a subprocess against the fake Slack and the fake arXiv, with
Slack's 3 s as the HTTP client's timeout: arXiv accepting and never answering (then SIGTERM and a restart),
another process holding the write lock for 5 s and for 40 s, the database file deleted or replaced, a full
3 MB tmpfs (root only; skipped elsewhere). Prints one line per fault: per kind of request, how many acks,
their p50 and max, how many missed Slack's 3 s, and the user actions lost (goal: 0).

    python bench/bench_faults.py [--quick]      # --quick: leave out the 40 s lock
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out the 40 s write lock")
    args = parser.parse_args()
    command = [sys.executable, "-m", "pytest", "tests/test_faults.py", "-s", "-q", "-p", "no:cacheprovider", "-n", "0"]
    if args.quick:
        command += ["-k", "not 40"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    figures = [line for line in done.stdout.splitlines() if "acks: p50" in line]
    for line in figures:
        print(line)
    skipped = [line for line in done.stdout.splitlines() if "skipped" in line.lower()]
    for line in skipped:
        print(line)
    if done.returncode != 0:
        print(done.stdout[-4000:], file=sys.stderr)
        print("some fault test failed: the figures above are not the whole story", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
