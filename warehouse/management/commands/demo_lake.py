"""Build the synthetic demo lake: ``manage.py demo_lake --days 90 --scale 1.0 --seed 7``.

The lake is built in a temporary sibling directory and renamed into place only when complete,
so a killed run never leaves a half lake; ``_demo_lake.json`` inside records the arguments.
The generator is the ``demo_lake`` package, outside the portal's apps: it is imported when the
command runs, so that importing this module (demo_experiments reads its marker) does not.
"""

import json
import shutil
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from warehouse.lake import contract, layout
from warehouse.lake.storage import TMP_PREFIX, bump_watermark

if TYPE_CHECKING:
    from demo_lake.config import LakeConfig

MARKER = "_demo_lake.json"
MAX_DAYS, MAX_SCALE = 730, 50.0  # bounds of the generator's id and key spaces, with headroom


def parse_config(
    days: Any,
    scale: Any,
    seed: Any,
    end_date: Any,
    rows_per_file: Any = layout.ROWS_PER_FILE,
    history_days: Any = None,
) -> "LakeConfig":
    """Check the arguments; raise CommandError with one line naming the bad one."""
    # Demo-only code, outside the apps: imported when a lake is built (see the docstring).
    from demo_lake.config import HISTORY_DAYS, LakeConfig

    history_days = HISTORY_DAYS if history_days is None else history_days

    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise CommandError(f"--days must be a whole number from 1 to {MAX_DAYS}, got {days!r}.")
    if not isinstance(scale, int | float) or not 0 < scale <= MAX_SCALE:
        raise CommandError(
            f"--scale must be a number above 0 and at most {MAX_SCALE:g}, got {scale!r}."
        )
    if not isinstance(seed, int) or seed < 0:
        raise CommandError(f"--seed must be a non-negative whole number, got {seed!r}.")
    if not isinstance(rows_per_file, int) or rows_per_file < 1:
        raise CommandError(
            f"--rows-per-file must be a whole number above 0, got {rows_per_file!r}."
        )
    if not isinstance(history_days, int) or not 0 <= history_days <= MAX_DAYS:
        raise CommandError(
            f"--history-days must be a whole number from 0 to {MAX_DAYS}, got {history_days!r}."
        )
    return LakeConfig(
        days=days,
        scale=float(scale),
        seed=seed,
        end_date=_end_date(end_date),
        rows_per_file=rows_per_file,
        history_days=history_days,
    )


def _end_date(value: Any) -> date:
    if value is None:
        return datetime.now(UTC).date() - timedelta(days=1)
    text = str(value)
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise CommandError(f"--end-date must be a date as YYYY-MM-DD, got {value!r}.")


def marker_of(cfg: "LakeConfig") -> dict[str, Any]:
    return {
        "days": cfg.days,
        "scale": cfg.scale,
        "seed": cfg.seed,
        "end_date": str(cfg.end_date),
        "rows_per_file": cfg.rows_per_file,
        "history_days": cfg.history_days,
        "contract": contract.fingerprint(),
    }


def read_marker(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / MARKER).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def _describe(args: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in args.items())


class Command(BaseCommand):
    help = "Build the deterministic synthetic demo lake (same arguments, same rows)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=90, help="window length (default 90)")
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 ≈ 2M raw events / 90 d")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--root", default=None, help="lake directory (default LAKE_ROOT)")
        parser.add_argument(
            "--end-date", default=None, help="last day, YYYY-MM-DD (default: yesterday, UTC)"
        )
        parser.add_argument(
            "--rows-per-file",
            type=int,
            default=layout.ROWS_PER_FILE,
            help="split a bigger partition into bucket files by id "
            f"(default {layout.ROWS_PER_FILE:,})",
        )
        parser.add_argument(
            "--history-days",
            type=int,
            default=None,
            help="days of bookings (and their refunds, disputes, chargebacks) before the window "
            "(default 365)",
        )
        parser.add_argument("--force", action="store_true", help="rebuild an existing lake")

    def handle(self, *args: Any, **options: Any) -> None:
        # Demo-only code, outside the apps: imported when a lake is built (see the docstring).
        from demo_lake.build import generate_lake

        cfg = parse_config(
            options["days"],
            options["scale"],
            options["seed"],
            options["end_date"],
            options["rows_per_file"],
            options["history_days"],
        )
        root = Path(options["root"] or settings.LAKE_ROOT)
        wanted = marker_of(cfg)
        if root.exists() and not root.is_dir():
            raise CommandError(f"--root {root} exists and is not a directory.")
        if root.exists() and not options["force"]:
            built = read_marker(root)
            if built == wanted:
                self.stdout.write(
                    f"Demo lake at {root} is already built ({_describe(built)}); nothing to do."
                )
                return
            if built is not None and {**built, "contract": None} == {**wanted, "contract": None}:
                # The same arguments for another lake contract: its tables lack columns the
                # portal reads. A demo lake is generated, so nothing is lost by rebuilding it.
                self.stdout.write(
                    f"Demo lake at {root} was built for another lake contract; rebuilding it."
                )
            elif built is not None:
                older = built.get("contract") != wanted["contract"]
                self.stdout.write(
                    f"Demo lake at {root} exists, built with {_describe(built)}"
                    + (" for an older lake contract" if older else "")
                    + "; nothing done. Use --force to rebuild it with the new arguments."
                )
                return
            elif any(root.iterdir()):
                raise CommandError(
                    f"--root {root} is not empty and holds no demo lake; use --force to replace it."
                )

        self.stdout.write(
            f"Building the demo lake: {cfg.days} days {cfg.start_date}..{cfg.end_date} "
            f"(bookings from {cfg.history_start}), scale {cfg.scale:g}, seed {cfg.seed} -> {root}"
        )
        root.parent.mkdir(parents=True, exist_ok=True)
        for stale in root.parent.glob(f"{TMP_PREFIX}{root.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
        building = root.parent / f"{TMP_PREFIX}{root.name}-{uuid.uuid4().hex[:8]}"
        replaced = root.parent / f"{TMP_PREFIX}{root.name}-{uuid.uuid4().hex[:8]}-old"
        try:
            summary = generate_lake(building, cfg, progress=self.stdout.write)
            (building / MARKER).write_text(json.dumps(wanted, indent=2) + "\n")
            if root.exists():
                root.rename(replaced)
            building.rename(root)
        finally:
            if replaced.exists() and not root.exists():
                replaced.rename(root)  # the new lake did not make it: keep the old one
            shutil.rmtree(building, ignore_errors=True)
            shutil.rmtree(replaced, ignore_errors=True)
        bump_watermark(root, max_partition=str(cfg.end_date))
        for name, rows in summary.rows.items():
            self.stdout.write(f"  {name:<30} {rows:>12,} rows")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo lake ready in {summary.seconds:.1f} s: {summary.raw_events:,} raw events "
                f"({summary.raw_events / max(summary.seconds, 1e-9):,.0f} events/s)."
            )
        )
