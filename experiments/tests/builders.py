"""Small builders of experiments, users and exposure lakes for the tests."""

import datetime
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from django.contrib.auth.models import Group, User

from experiments import services
from experiments.models import Experiment
from warehouse.lake import contract, storage
from warehouse.lake.storage import arrow_schema

EXPOSURES = contract.table("fact_experiment_exposures")
HUMAN_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
START = datetime.date(2026, 1, 10)


def user(role: str, username: str | None = None) -> User:
    """A user holding `role` (created once per name)."""
    person, _ = User.objects.get_or_create(username=username or f"{role}-user")
    person.groups.add(Group.objects.get_or_create(name=role)[0])
    return person


def experiment(
    key: str = "exp_test",
    *,
    owner: User | None = None,
    variants: Sequence[tuple[str, float]] = (("control", 0.5), ("treatment", 0.5)),
    **fields,
) -> Experiment:
    owner = owner or user("pm")
    values = {
        "key": key,
        "name": f"Experiment {key}",
        "hypothesis": "It helps.",
        "targeted_surfaces": ["search_results"],
        "primary_metric": "conversion",
        "secondary_metrics": [],
        "guardrail_metrics": [],
        "alpha": 0.05,
        "power": 0.8,
        "mde_rel": 0.1,
        "baseline": 0.07,
        "baseline_std": None,
        "expected_correlation": 0.0,
        "max_duration_days": 60,
        "expected_daily_units": 2_000,
    } | fields
    return services.experiment_create(
        user=owner, owner=owner, fields=values, variants=list(variants)
    )


def running(key: str = "exp_test", *, started: datetime.date = START, **kwargs) -> Experiment:
    draft = experiment(key, **kwargs)
    return services.experiment_launch(
        experiment=draft,
        user=draft.owner,
        started_at=datetime.datetime.combine(started, datetime.time(), tzinfo=datetime.UTC),
    )


def exposures(
    key: str,
    counts: dict[str, int],
    *,
    day: datetime.date = START,
    conversion: dict[str, float] | None = None,
    lift: dict[str, float] | None = None,
    seed: int = 0,
    first_id: int = 0,
) -> pd.DataFrame:
    """Exposure rows of one day: `counts[variant]` units each, with correlated pre and post
    values and conversions (rates per variant), as the lake holds them."""
    rng = np.random.default_rng(seed)
    frames = []
    next_id = first_id
    for variant, n in counts.items():
        latent = rng.standard_normal(n)
        pre = 25 * np.exp(0.5 * latent + 0.3 * rng.standard_normal(n))
        post = 25 * np.exp(0.5 * latent + 0.3 * rng.standard_normal(n))
        post *= 1 + (lift or {}).get(variant, 0.0)
        rate = (conversion or {}).get(variant, 0.07)
        frames.append(
            pd.DataFrame(
                {
                    "experiment_key": key,
                    "variant": variant,
                    "identity_id": [f"idn_{i:012d}" for i in range(next_id, next_id + n)],
                    "user_id": None,
                    "exposure_ts": pd.Timestamp(day)
                    + pd.to_timedelta(rng.integers(0, 86_400, n), "s"),
                    "surface": "search_results",
                    "user_agent": HUMAN_UA,
                    # Without a draw: the other columns stay as they were.
                    "country": np.array(["DE", "GB", "FR"])[np.arange(n) % 3],
                    "pre_value": pre.round(2),
                    "outcome_value": post.round(2),
                    "converted": rng.random(n) < rate,
                    # The same units' bookings before exposure, without a draw (about 7%).
                    "pre_converted": latent > 1.5,
                    "event_dt": day,
                }
            )
        )
        next_id += n
    return pd.concat(frames, ignore_index=True)


def write_exposures(root: Path, rows: pd.DataFrame, name: str = "part-0.parquet") -> None:
    """Publish rows as the lake's exposure files (one per day) and bump the watermark."""
    schema = arrow_schema(EXPOSURES)
    for day, part in rows.groupby("event_dt"):
        table = pa.Table.from_pandas(
            part.drop(columns="event_dt"), schema=schema, preserve_index=False
        )
        storage.write_parquet(table, storage.partition_dir(root, EXPOSURES, str(day)) / name)
    storage.bump_watermark(root, max_partition=str(rows["event_dt"].max()))
