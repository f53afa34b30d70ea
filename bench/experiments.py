"""Experiments: results of an experiment with 10 million exposed units end to end on the embedded
engine, the statistics on sufficient statistics, the assignment API, and the false-positive
rate of A/A experiments read at 40 looks (fixed horizon against sequential intervals).

The 50M-event lake has far fewer exposed units per experiment, so this suite writes its own
exposures (var/bench/experiments-lake, built once and reused): 10M units over 28 days, 50/50,
plus re-exposures and crawler rows the query must drop. Each ratio is against a baseline
alternated with the measured runs (B, A, B, A, ...): the exposure statistics written by hand
for DuckDB (one GROUP BY identity with arg_min, where the portal's portable SQL ranks every
exposure with window functions), which must answer what the portal's query answers, and the
pure assignment function.
"""

import datetime
import json
import os
import statistics
import time

import numpy as np
import pyarrow as pa

from bench import common

UNITS = int(os.environ.get("BENCH_EXPERIMENT_UNITS", 10_000_000))
DAYS = 28
FIRST_DAY = datetime.date(2026, 1, 1)
KEY = "bench_10m"
LAKE = common.BENCH_VAR / "experiments-lake"
MARKER = LAKE / "_bench_exposures.json"
REPEAT = 5
STATS_REPEAT = 200
ASSIGNMENT_REQUESTS = 3_000
REEXPOSED, CRAWLERS = 0.01, 0.005  # shares of extra rows: later exposures, crawler visits
RESULTS_S_MAX, STATS_MS_MAX, ASSIGNMENT_MS_MAX, AA_FPR_MAX = 5, 5, 2, 0.05

# experiments/queries.exposure_stats's question written by hand for DuckDB: per variant and
# day of first exposure, the units that are neither crawlers nor exposed to two variants, with
# their first exposure's values (exposure_units.sql and exposure_stats.sql say what each
# column is). {scan} is the read_parquet() of the exposures. The agents are matched once each
# (the LIMIT keeps the match above the DISTINCT).
NATIVE_SQL = """
WITH exposures AS (
    SELECT * FROM {scan}
    WHERE experiment_key = $experiment_key AND event_dt BETWEEN $start AND $end
),
crawler_agents AS (
    SELECT agent
    FROM (SELECT DISTINCT coalesce(user_agent, '') AS agent FROM exposures LIMIT 2147483647)
    WHERE regexp_matches(agent || chr(3), $crawler_pattern)
),
units AS (
    SELECT min(e.variant) AS variant,
           arg_min({{'dt': e.event_dt, 'pre': coalesce(e.pre_value, 0),
                     'out': coalesce(e.outcome_value, 0), 'conv': coalesce(e.converted, false),
                     'pre_conv': coalesce(e.pre_converted, false)}}, e.exposure_ts) AS f
    FROM exposures AS e
    LEFT JOIN crawler_agents AS c ON c.agent = coalesce(e.user_agent, '')
    WHERE e.identity_id IS NOT NULL
    GROUP BY e.identity_id
    HAVING min(e.variant) = max(e.variant) AND NOT bool_or(c.agent IS NOT NULL)
),
weighted AS (
    SELECT variant, f.dt AS event_dt, f.conv AS converted, f.pre_conv AS pre_converted,
           f.out AS outcome_value, f.pre AS pre_value,
           CASE WHEN f.dt <= $matured_through THEN 1 ELSE 0 END AS matured
    FROM units
),
daily AS (
    SELECT variant, event_dt, count(*) AS units,
           count_if(matured = 1) AS matured_units,
           count_if(matured = 1 AND converted) AS conversions,
           count_if(matured = 1 AND pre_converted) AS pre_conversions,
           count_if(matured = 1 AND pre_converted AND converted) AS conversion_products,
           sum(matured * outcome_value) AS value_sum,
           sum(matured * outcome_value * outcome_value) AS value_sum_squares,
           sum(matured * pre_value) AS pre_sum,
           sum(matured * pre_value * pre_value) AS pre_sum_squares,
           sum(matured * pre_value * outcome_value) AS sum_products,
           sum(pre_value) AS units_pre_sum,
           sum(pre_value * pre_value) AS units_pre_sum_squares,
           count_if(pre_converted) AS units_pre_conversions
    FROM weighted
    GROUP BY variant, event_dt
)
SELECT variant, event_dt, units,
       sum(units) OVER (PARTITION BY variant ORDER BY event_dt) AS cumulative_units,
       * EXCLUDE (variant, event_dt, units)
FROM daily
ORDER BY variant, event_dt
"""


def _build_lake() -> None:
    """Write the exposures once: one Parquet file per day, vectorised with numpy and pyarrow."""
    from demo_lake.clients import USER_AGENTS
    from demo_lake.ids import make_ids
    from warehouse.lake import contract, storage

    wanted = {"units": UNITS, "days": DAYS, "first_day": str(FIRST_DAY)}
    if MARKER.exists() and json.loads(MARKER.read_text()) == wanted:
        return
    table = contract.table("fact_experiment_exposures")
    schema = storage.arrow_schema(table)
    rng = np.random.default_rng(2026)
    per_day = np.full(DAYS, UNITS // DAYS)
    per_day[: UNITS % DAYS] += 1
    first = 0
    variants = pa.array(["control", "treatment"])
    agents = pa.array([USER_AGENTS[2], USER_AGENTS[5]])  # a browser and Googlebot
    countries = pa.array(["DE", "GB", "FR"])
    for day, n in enumerate(per_day):
        units = np.arange(first, first + n)
        first += n
        # Re-exposures of units first seen earlier (possibly under the other variant), and
        # crawler visits: the query keeps first exposures of people only.
        again = rng.integers(0, first, int(n * REEXPOSED))
        bots = np.arange(UNITS + day * n, UNITS + day * n + int(n * CRAWLERS))
        ident = np.concatenate([units, again, bots])
        m = len(ident)
        bot = np.arange(m) >= n + len(again)
        variant = np.where(bot, 0, rng.random(m) < 0.5).astype(np.int32)
        latent = rng.standard_normal(m)
        pre = 25 * np.exp(0.6 * (0.8 * latent + 0.6 * rng.standard_normal(m)) - 0.18)
        post = 25 * np.exp(0.6 * (0.8 * latent + 0.6 * rng.standard_normal(m)) - 0.18)
        post *= 1 + 0.02 * variant
        start = np.datetime64(FIRST_DAY + datetime.timedelta(days=day), "us").astype(np.int64)
        columns = {
            "experiment_key": pa.array([KEY]).take(pa.array(np.zeros(m, dtype=np.int32))),
            "variant": variants.take(pa.array(variant)),
            "identity_id": make_ids("idn_", ident, np.uint64(77)),
            "user_id": pa.nulls(m, pa.string()),
            "exposure_ts": pa.array(start + rng.integers(0, 86_400_000_000, m), pa.timestamp("us")),
            "surface": pa.array(["search_results"]).take(pa.array(np.zeros(m, dtype=np.int32))),
            "user_agent": agents.take(pa.array(bot.astype(np.int32))),
            "country": countries.take(pa.array(np.arange(m, dtype=np.int32) % 3)),
            "pre_value": np.where(bot, 0.0, pre.round(2)),
            "outcome_value": np.where(bot, 0.0, post.round(2)),
            "converted": ~bot & (rng.random(m) < 0.07 * (1 + 0.03 * variant)),
            "pre_converted": ~bot & (latent > 1.5),
        }
        day_table = pa.table(columns, schema=schema)
        name = (FIRST_DAY + datetime.timedelta(days=day)).isoformat()
        storage.write_parquet(
            day_table, storage.partition_dir(LAKE, table, name) / "part-0.parquet"
        )
    storage.bump_watermark(LAKE, max_partition=str(FIRST_DAY + datetime.timedelta(days=DAYS - 1)))
    MARKER.write_text(json.dumps(wanted))


def _experiment():
    from django.contrib.auth.models import User

    from experiments import services
    from experiments.models import Experiment

    owner, _ = User.objects.get_or_create(username="bench-pm")
    existing = Experiment.objects.filter(key=KEY).first()
    if existing is not None:
        return existing
    draft = services.experiment_create(
        user=owner,
        owner=owner,
        fields={
            "key": KEY,
            "name": "Bench: 10M units",
            "hypothesis": "Benchmark.",
            "targeted_surfaces": ["search_results"],
            "primary_metric": "outcome_value",
            "secondary_metrics": ["conversion"],
            "guardrail_metrics": [],
            "alpha": 0.05,
            "power": 0.8,
            "mde_rel": 0.01,
            "baseline": 25.0,
            "baseline_std": 16.5,
            "expected_correlation": 0.6,
            "max_duration_days": 60,
            "expected_daily_units": UNITS // DAYS,
        },
        variants=[("control", 0.5), ("treatment", 0.5)],
    )
    started = datetime.datetime.combine(FIRST_DAY, datetime.time(), tzinfo=datetime.UTC)
    return services.experiment_launch(experiment=draft, user=owner, started_at=started)


def _native(con, params: dict):
    """A callable asking NATIVE_SQL on ``con``; it returns the rows."""
    from warehouse.engines.duckdb import parquet_scan_sql
    from warehouse.lake import contract, storage

    table = contract.table("fact_experiment_exposures")
    sql = NATIVE_SQL.format(scan=parquet_scan_sql(storage.data_files(LAKE, table), table))

    def once(_round: int = 0) -> list[tuple]:
        return con.execute(sql, params).fetchall()

    return once


def _results(experiment) -> tuple[dict, object]:
    from django.core.cache import cache

    from experiments import queries
    from experiments.results import results_compute
    from warehouse.selectors import run_result

    window = experiment.analysis_window(datetime.datetime.now(datetime.UTC).date())
    _, params = queries.exposure_stats(KEY, *window)
    computations = []

    def portal(_round: int) -> None:
        cache.clear()  # every run cold: the warehouse query runs again
        computations.append(results_compute(experiment_id=experiment.pk))

    con = common.duckdb_connection()
    try:
        native = _native(con, params)
        samples = common.alternate({"native": native, "portal": portal}, REPEAT)
        computation = computations[-1]
        assert computation.status == "succeeded", computation.error
        if not common.same_rows(run_result(computation.query_run).payload["rows"], native()):
            raise SystemExit("the hand-written exposure statistics disagree with the portal's")
    finally:
        con.close()
    units = sum(t["units"] for t in computation.totals.values())
    return {
        "exposed_units": units,
        "baseline_is": "hand-written DuckDB SQL of the exposure statistics",
        **common.paired(samples["native"], samples["portal"]),
    }, computation


def _statistics(experiment, computation) -> dict:
    from experiments.analysis import analyse
    from experiments.results import experiment_setup
    from experiments.stats import compare
    from experiments.stats.sufficient import ProportionStats
    from warehouse.selectors import run_result

    rows = run_result(computation.query_run).frame.to_dict("records")
    setup = experiment_setup(experiment)
    today = datetime.datetime.now(datetime.UTC).date()
    analyse(setup, rows, today)
    whole = statistics.median(common.timings(lambda: analyse(setup, rows, today), STATS_REPEAT))
    totals = computation.totals
    arms = [
        (name, ProportionStats(n=t["units"], conversions=t["conversions"]))
        for name, t in totals.items()
    ]
    rate = statistics.median(
        common.timings(lambda: compare("proportion", arms, [0.5, 0.5]), STATS_REPEAT)
    )
    return {
        "analysis_ms": round(whole * 1000, 3),
        "proportion_compare_ms": round(rate * 1000, 3),
        "day_rows": len(rows),
    }


def _assignment(experiment) -> dict:
    from django.test import Client

    from experiments.assignment import assign
    from portal.models import ServiceToken

    token = ServiceToken.generate()
    ServiceToken.objects.filter(name="bench-assignment").delete()
    ServiceToken.objects.create(
        name="bench-assignment", token_hash=ServiceToken.hash(token), scopes=["assignment:read"]
    )
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_USER_AGENT="bench/1.0")
    url = f"/api/experiments/{KEY}/assignment"
    for i in range(50):  # warm: config cached, token's last use recorded
        assert client.get(url, {"unit": f"warm-{i}"}).status_code == 200
    config = experiment.assignment_config()

    def request(round_: int) -> None:
        assert client.get(url, {"unit": f"idn_{round_}"}).status_code == 200

    samples = common.alternate(
        {"pure": lambda r: assign(config, f"idn_{r}", "bench/1.0"), "request": request},
        ASSIGNMENT_REQUESTS,
        warmup=0,
    )
    return {
        **common.paired(samples["pure"], samples["request"]),
        "requests_per_s": round(ASSIGNMENT_REQUESTS / sum(samples["request"]), 1),
        "client": "django.test.Client in process (one thread)",
    }


def _sequential_aa(runs: int = 2_000, looks: int = 40, batch: int = 250) -> dict:
    """A/A experiments read at every look (as an hourly or daily results page is): the share
    of runs that ever declare a difference, fixed horizon against the sequential intervals,
    and fixed horizon read once, at the last look. Skewed data (exponential, like revenue)."""
    from experiments.stats import compare

    rng = np.random.default_rng(2026)
    alpha = 0.05
    declared = {"fixed_any_look": 0, "fixed_last_look_only": 0, "sequential_any_look": 0}

    def significant(sums, squares, look, sequential) -> bool:
        n = (look + 1) * batch
        arms = [
            (name, {"n": n, "sum": sums[k, look], "sum_squares": squares[k, look]})
            for k, name in enumerate(("a", "b"))
        ]
        result = compare(
            "mean", arms, [0.5, 0.5], alpha, sequential=sequential,
            sequential_tuning=2 * looks * batch,
        )  # fmt: skip
        return result.comparisons[0].decision != "inconclusive"

    started = time.perf_counter()
    for _ in range(runs):
        data = rng.exponential(3.0, (2, looks, batch))
        sums = np.cumsum(data.sum(axis=2), axis=1)
        squares = np.cumsum((data**2).sum(axis=2), axis=1)
        fixed = [significant(sums, squares, look, False) for look in range(looks)]
        declared["fixed_any_look"] += any(fixed)
        declared["fixed_last_look_only"] += fixed[-1]
        declared["sequential_any_look"] += any(
            significant(sums, squares, look, True) for look in range(looks)
        )
    rates = {key: round(count / runs, 4) for key, count in declared.items()}
    return {
        "runs": runs,
        "looks": looks,
        "units_per_arm_per_look": batch,
        "alpha": alpha,
        "false_positive_rate": rates,
        "sequential_at_most_alpha": rates["sequential_any_look"] <= alpha,
        "seconds": round(time.perf_counter() - started, 1),
    }


def run() -> dict:
    from django.core.management import call_command
    from django.test import override_settings

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    _build_lake()
    build_s = time.perf_counter() - started
    # Only for this suite: the others read the 50M bench lake.
    with override_settings(WAREHOUSE="duckdb", LAKE_ROOT=LAKE):
        experiment = _experiment()
        results, computation = _results(experiment)
        stats = _statistics(experiment, computation)
        assignment = _assignment(experiment)
        aa = _sequential_aa()
        return {
            "lake": str(LAKE),
            "lake_build_s": round(build_s, 1),
            "results": results,
            "statistics": stats,
            "assignment": assignment,
            "sequential_aa": aa,
            "targets": {
                "sequential_aa_false_positive_rate_max": AA_FPR_MAX,
                "results_s_max": RESULTS_S_MAX,
                "statistics_ms_max": STATS_MS_MAX,
                "assignment_median_ms_max": ASSIGNMENT_MS_MAX,
            },
            "met": {
                "sequential_aa_false_positive_rate_max": (
                    aa["false_positive_rate"]["sequential_any_look"] <= AA_FPR_MAX
                ),
                "results_s_max": results["measured"]["median_ms"] / 1000 <= RESULTS_S_MAX,
                "statistics_ms_max": stats["analysis_ms"] <= STATS_MS_MAX,
                "assignment_median_ms_max": (
                    assignment["measured"]["median_ms"] <= ASSIGNMENT_MS_MAX
                ),
            },
        }
