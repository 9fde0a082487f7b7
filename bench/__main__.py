"""``python -m bench`` (``make bench``): run every ``bench/bench_*.py`` in turn.

Each benchmark is a script that prints one JSON document on stdout. This runner
runs them one after another (so they do not compete for the cores) and prints a
JSON object keyed by benchmark name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    results = {}
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"# running {script.name}", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            results[name] = {"error": f"exit status {proc.returncode}"}
            continue
        results[name] = json.loads(proc.stdout)
    if not results:
        print("no benchmarks matched", file=sys.stderr)
        return 1
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
