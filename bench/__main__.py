"""`make bench`: every benchmark, printed and written to var/bench/results.json.

Timings on shared machines are noisy, so each result is quoted as a ratio against a baseline
measured in the same run. `python -m bench lake query_path` runs only the named suites.
"""

import importlib
import json
import os
import pkgutil
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import common

# The lake suite builds the 50M-event lake the others read, so it runs first; any other module
# of this package with a run() is a suite.
SUITES = (
    "lake",
    *sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name not in ("lake", "common", "__main__")
    ),
)


def main(argv: list[str]) -> None:
    chosen = argv or list(SUITES)
    unknown = set(chosen) - set(SUITES)
    if unknown:
        raise SystemExit(f"unknown suite(s) {', '.join(sorted(unknown))}; choose from {SUITES}")
    common.setup_django()
    results: dict = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", flush=True)
        results[name] = module.run()
        print(json.dumps(results[name], indent=2, default=str), flush=True)
        common.write_results(results)
    print(f"written to {common.RESULTS.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
