"""`make bench`: every benchmark, printed and written to var/bench/results.json, then a summary of
which targets each suite met.

Timings on shared machines are noisy, so each ratio is measured against a baseline alternated
with the measured runs in the same run (common.alternate), and each suite records the machine's
load average before and after it. `python -m bench lake query_path` runs only the named suites.
"""

import importlib
import json
import os
import pkgutil
import platform
import sys
import time
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
CPUS = os.cpu_count() or 1
# Other processes using more than this share of the CPUs while a suite ran: not a quiet machine.
QUIET_SHARE = 0.1


def main(argv: list[str]) -> None:
    chosen = argv or list(SUITES)
    unknown = set(chosen) - set(SUITES)
    if unknown:
        raise SystemExit(f"unknown suite(s) {', '.join(sorted(unknown))}; choose from {SUITES}")
    common.setup_django()
    results: dict = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": CPUS},
        "scale": common.BIG_SCALE,
        "lake": str(common.BENCH_LAKE),
    }
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", flush=True)
        before, machine, own = common.load_average(), _machine_cpu_s(), _own_cpu_s()
        started = time.monotonic()
        result = module.run()
        wall = time.monotonic() - started
        # Load averages over 1, 5 and 15 minutes (they count this bench's own processes too).
        result["load_average"] = {"before": before, "after": common.load_average()}
        result["cpus"] = CPUS
        # The share of the machine's CPU time that other processes used while the suite ran:
        # all busy time minus this process's and its (waited) children's.
        others = (_machine_cpu_s() - machine) - (_own_cpu_s() - own)
        result["others_cpu_share"] = round(max(others, 0.0) / (wall * CPUS), 3)
        results[name] = result
        print(json.dumps(result, indent=2, default=str), flush=True)
        common.write_results(results)
    print(f"written to {common.RESULTS}")
    print(summary({name: results[name] for name in chosen}))


def _machine_cpu_s() -> float:
    import psutil

    times = psutil.cpu_times()._asdict()
    # Linux counts guest time inside user time already; idle and iowait are not busy.
    busy = ("user", "nice", "system", "irq", "softirq", "steal")
    return sum(times.get(field, 0.0) for field in busy)


def _own_cpu_s() -> float:
    import psutil

    times = psutil.Process().cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def summary(results: dict[str, dict]) -> str:
    """Each suite's load, then one line per target: met, NOT MET, or not measured in this
    run."""
    lines = ["", f"{'suite / target':<50} {'limit':>8}  result", "-" * 70]
    met = measured = 0
    for name, result in results.items():
        load = result["load_average"]["before"][0]
        others = result["others_cpu_share"]
        quiet = "quiet" if others <= QUIET_SHARE else "NOT QUIET: timings unreliable"
        lines.append(
            f"{name}  (other processes used {others:.0%} of {CPUS} cpus, load {load:g} at the"
            f" start: {quiet})"
        )
        for target, limit in result["targets"].items():
            outcome = result["met"].get(target)
            measured += outcome is not None
            met += bool(outcome)
            word = {True: "met", False: "NOT MET", None: "not measured"}[outcome]
            lines.append(f"  {target:<48} {limit!s:>8}  {word}")
    lines.append(f"{met} of {measured} measured targets met")
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
