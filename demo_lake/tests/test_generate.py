import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from scipy import stats

from demo_lake.build import generate_lake
from demo_lake.config import LakeConfig
from demo_lake.events import FUNNEL_STEPS
from demo_lake.exposures import EXPERIMENTS, exposure_outcomes
from experiments.surfaces import SURFACES
from warehouse.lake.contract import TABLES
from warehouse.lake.layout import bucket_of
from warehouse.lake.storage import data_files, table_dir

# What each Athena type may be stored as, written out independently of the generator.
STORED_AS = {
    "varchar": {pa.string(), pa.large_string()},
    "bigint": {pa.int64()},
    "integer": {pa.int32()},
    "double": {pa.float64()},
    "boolean": {pa.bool_()},
    "timestamp": {pa.timestamp("us"), pa.timestamp("ms")},
    "date": {pa.date32()},
}
CRAWLERS = "Googlebot|bingbot"
# Tables that reach back before the window: the consent log (banner answers) and the bookings
# with their after-sale, HISTORY_DAYS before it.
REACHING_BACK = {
    "consent_changes",
    "fact_bookings",
    "fin_refunds",
    "fin_disputes",
    "fin_chargebacks",
}


def read(root: Path, name: str) -> pd.DataFrame:
    table = TABLES[name]
    partitioning = None
    if table.partition_column:
        schema = pa.schema([(table.partition_column, pa.date32())])
        partitioning = ds.partitioning(schema, flavor="hive")
    dataset = ds.dataset(table_dir(root, table), format="parquet", partitioning=partitioning)
    return dataset.to_table().to_pandas()


def end_of(day: date) -> pd.Timestamp:
    return pd.Timestamp(datetime.combine(day + timedelta(days=1), datetime.min.time()))


def window(root: Path) -> list[date]:
    """The days of a demo lake, from the arguments it records."""
    built = json.loads((root / "_demo_lake.json").read_text())
    end = date.fromisoformat(built["end_date"])
    return [end - timedelta(days=i) for i in reversed(range(built["days"]))]


MEDIUM = LakeConfig(days=42, scale=0.5, seed=11, end_date=date(2026, 3, 31))


@pytest.fixture(scope="module")
def medium_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six weeks at half scale (≈ 450,000 raw events): enough rows for rates and effects."""
    root = tmp_path_factory.mktemp("medium_lake") / "lake"
    generate_lake(root, MEDIUM)
    return root


# ------------------------------------------------------------------------ layout and types


def test_every_contract_table_is_there_with_its_columns_types_and_partitions(small_lake):
    days_built = set(window(small_lake))
    for table in TABLES.values():
        if table.writer == "portal":
            assert not table_dir(small_lake, table).exists(), table.name
            continue
        files = data_files(small_lake, table)
        assert files, table.name
        stored = [c for c in table.columns if c.name != table.partition_column]
        for path in files:
            schema = pq.read_schema(path)
            assert schema.names == [c.name for c in stored], path
            for column in stored:
                assert schema.field(column.name).type in STORED_AS[column.type], (path, column)
        if not table.partition_column:
            continue
        dirs = [p.name for p in table_dir(small_lake, table).iterdir()]
        assert all(d.startswith("event_dt=") for d in dirs), table.name
        days = {date.fromisoformat(d.removeprefix("event_dt=")) for d in dirs}
        assert days_built <= days, table.name  # every day is written, if only empty
        if table.name in REACHING_BACK:
            assert max(days) == max(days_built) and min(days) < min(days_built), table.name
        else:
            assert days == days_built, table.name
    assert not list(small_lake.parent.rglob(".tmp-*"))


def test_partition_is_the_ingest_date_and_some_events_arrive_days_late(small_lake):
    raw = read(small_lake, "raw_events")
    assert (raw.event_dt == raw.ingest_ts.dt.date).all()
    late = raw[raw.ingest_ts - raw.client_ts > pd.Timedelta(days=1)]
    assert 0 < len(late) < 0.02 * len(raw)
    assert raw.payload.map(lambda p: isinstance(json.loads(p), dict)).all()


# ------------------------------------------------------------------------ bronze and silver


def test_silver_is_deduplicated_and_every_duplicate_reaches_it_once(small_lake):
    raw, silver = read(small_lake, "raw_events"), read(small_lake, "events")
    assert silver.event_id.is_unique
    assert set(silver.event_id) <= set(raw.event_id)
    copies = raw.groupby("event_id").agg(n=("ingest_ts", "size"), first=("ingest_ts", "min"))
    duplicated = copies[copies.n > 1]
    assert len(duplicated) > 20
    assert copies.n.max() == 2
    # The first copy of a duplicate ingested in the last hour may still be on its way.
    settled = duplicated[
        duplicated["first"] < end_of(window(small_lake)[-1]) - pd.Timedelta(hours=1)
    ]
    assert set(settled.index) <= set(silver.event_id)
    content = ["event_name", "session_id", "client_ts", "payload", "identity_id"]
    assert (
        raw[raw.event_id.isin(duplicated.index)].groupby("event_id")[content].nunique() == 1
    ).all(axis=None)


def test_some_events_are_lost_dead_lettered_or_carry_pii(small_lake):
    raw, silver = read(small_lake, "raw_events"), read(small_lake, "events")
    dead = read(small_lake, "dead_letter_events")
    lost = set(raw.event_id) - set(silver.event_id)
    assert 0.001 < len(lost) / raw.event_id.nunique() < 0.03
    assert len(dead) > 0 and not set(dead.event_id) & set(raw.event_id)
    pattern = (
        r"schema_validation_failed:missing_field:\w+|unknown_event_name|payload_too_large"
        r"|pii_key_not_allowed:\w+|malformed_json"
    )
    assert dead.reason.str.fullmatch(pattern).all()
    leaked = raw.payload.str.contains('"email":|"phone_number":')
    assert 0 < leaked.sum() < 0.005 * len(raw)


def test_every_session_starts_with_exactly_one_app_start(small_lake):
    raw = read(small_lake, "raw_events").drop_duplicates("event_id")
    first = raw.sort_values(["session_id", "client_ts"]).groupby("session_id").event_name.first()
    assert (first == "app.start").all()
    starts = raw[raw.event_name == "app.start"].groupby("session_id").size()
    assert (starts == 1).all() and len(starts) == raw.session_id.nunique()


def test_events_happen_on_the_surfaces_the_portal_declares(small_lake):
    """The experiment form offers experiments.surfaces.SURFACES: the lake uses those, all."""
    silver = read(small_lake, "events")
    exposures = read(small_lake, "fact_experiment_exposures")
    assert set(silver.surface) == set(SURFACES)
    assert set(exposures.surface) <= set(SURFACES)
    pricing = silver[silver.surface == "pricing_page"]
    assert set(pricing.event_name) == {"page_view", "experiment_exposure"}


def test_user_ids_appear_once_the_identity_became_a_user(small_lake):
    identities, silver = read(small_lake, "dim_identities"), read(small_lake, "events")
    assert identities.identity_id.is_unique and identities.user_id.dropna().is_unique
    assert 0.15 < identities.user_id.notna().mean() < 0.3
    seen = silver.merge(identities, on="identity_id", suffixes=("", "_dim"), validate="m:1")
    assert len(seen) == len(silver) and (seen.client_ts >= seen.first_seen_ts).all()
    is_user = seen.became_user_ts.notna() & (seen.client_ts >= seen.became_user_ts)
    assert (seen.user_id.notna() == is_user).all()
    assert (seen.user_id[is_user] == seen.user_id_dim[is_user]).all()


def test_pipeline_lags_are_long_tailed_within_budget(medium_lake):
    silver = read(medium_lake, "events")
    gold = read(medium_lake, "fact_funnel_events")
    to_silver = (silver.silver_processed_ts - silver.ingest_ts).dt.total_seconds()
    to_gold = (gold.gold_processed_ts - gold.silver_processed_ts).dt.total_seconds() / 60
    assert (to_silver > 0).all() and 120 < to_silver.quantile(0.95) < 240
    assert to_silver.max() > 15 * 60  # occasional late batches
    assert (to_gold > 0).all() and 12 < to_gold.quantile(0.95) < 30


# ------------------------------------------------------------------------ gold: marketplace


def test_funnel_steps_shrink_in_order_at_realistic_rates_and_weekends_are_busier(medium_lake):
    funnel = read(medium_lake, "fact_funnel_events")
    counts = funnel.step.value_counts().reindex(list(FUNNEL_STEPS)).to_numpy()
    assert all(a > b for a, b in pairwise(counts))
    rates = [b / a for a, b in pairwise(counts)]
    for rate, (low, high) in zip(
        rates, [(0.25, 0.4), (0.06, 0.1), (0.22, 0.38), (0.55, 0.75)], strict=True
    ):
        assert low < rate < high, rates
    searches = funnel[funnel.step == "search"].groupby("event_dt").size()
    weekend = pd.to_datetime(searches.index).dayofweek >= 5
    assert searches[weekend].mean() > 1.15 * searches[~weekend].mean()


def test_bookings_are_the_checkout_completions_and_users_book_again(medium_lake):
    bookings = read(medium_lake, "fact_bookings")
    bookings = bookings[bookings.booked_ts >= pd.Timestamp(MEDIUM.start_date)]  # events' window
    funnel = read(medium_lake, "fact_funnel_events")
    done = funnel[funnel.step == "checkout_complete"]
    assert bookings.booking_id.is_unique and bookings.user_id.notna().all()
    joined = done.merge(
        bookings,
        left_on=["identity_id", "event_ts", "profile_id", "listing_kind"],
        right_on=["identity_id", "booked_ts", "profile_id", "listing_kind"],
        how="left",
        validate="1:1",
    )
    assert joined.booking_id.notna().all() and (joined.user_id_x == joined.user_id_y).all()
    assert 0.95 * len(bookings) <= len(done) <= len(bookings)  # a few were lost before gold
    assert (bookings.amount_cents > 0).all() and (bookings.currency == "EUR").all()
    per_user = bookings.groupby("user_id").size()
    assert per_user.max() >= 3 and 0.05 < (per_user > 1).mean() < 0.5


def test_bookings_reach_a_year_back_as_the_window_would_have_made_them(medium_lake):
    """Before the window: bookings only (no events, no attribution), by people who were users
    then, of listings open then; as many a day as the window starts with, repeating about as
    often (a year of history lets a 90-day cohort mature, and tells first bookings)."""
    start = pd.Timestamp(MEDIUM.start_date)
    bookings = read(medium_lake, "fact_bookings")
    before = bookings[bookings.booked_ts < start]
    assert (before.event_dt == before.booked_ts.dt.date).all()
    assert before.booked_ts.min() >= pd.Timestamp(MEDIUM.history_start)
    assert before.booked_ts.min() < pd.Timestamp(MEDIUM.history_start) + pd.Timedelta(days=7)
    assert bookings.booking_id.is_unique and before.user_id.notna().all()

    users = read(medium_lake, "dim_identities").dropna(subset=["user_id"])
    booked = before.merge(users, on=["user_id", "identity_id"], validate="m:1")
    assert len(booked) == len(before) and (booked.became_user_ts <= booked.booked_ts).all()
    listings = read(medium_lake, "dim_listings")
    booked = before.merge(
        listings, left_on=["profile_id", "listing_kind"], right_on=["listing_id", "listing_kind"]
    )
    assert len(booked) == len(before)
    assert (booked.created_ts <= booked.booked_ts).all()
    assert not (booked.deactivated_ts <= booked.booked_ts).any()
    assert read(medium_lake, "events").client_ts.min() >= start - pd.Timedelta(days=1)
    conversions = read(medium_lake, "fact_attribution_conversions")
    assert not set(conversions.booking_id) & set(before.booking_id)

    per_day = bookings.groupby("event_dt").size()
    per_day.index = pd.to_datetime(per_day.index)
    last_weeks = per_day[(per_day.index < start) & (per_day.index >= start - pd.Timedelta(28, "D"))]
    window = per_day[per_day.index >= start]
    assert 0.8 < last_weeks.mean() / window.mean() < 1.25
    assert per_day[per_day.index < start - pd.Timedelta(days=300)].mean() < last_weeks.mean()

    # The share of bookings that follow one of the same user's within 30 days: the window's is
    # a little lower (its new users have no earlier bookings).
    ordered = bookings.sort_values(["user_id", "booked_ts", "booking_id"])
    gap = ordered.booked_ts - ordered.groupby("user_id").booked_ts.shift(1)
    repeat = gap <= pd.Timedelta(days=30)
    recent = (ordered.booked_ts < start) & (ordered.booked_ts >= start - pd.Timedelta(42, "D"))
    history_share, window_share = repeat[recent].mean(), repeat[ordered.booked_ts >= start].mean()
    assert 0 <= history_share - window_share < 0.12, (history_share, window_share)


def test_finance_tables_agree_with_the_booking_flags(medium_lake):
    bookings = read(medium_lake, "fact_bookings").set_index("booking_id")
    first_ts = {
        "fin_refunds": "requested_ts",
        "fin_disputes": "opened_ts",
        "fin_chargebacks": "received_ts",
    }
    flags = {
        "fin_refunds": "is_refunded",
        "fin_disputes": "is_disputed",
        "fin_chargebacks": "has_chargeback",
    }
    for name, flag in flags.items():
        fin = read(medium_lake, name)
        assert fin.booking_id.is_unique, name
        assert set(fin.booking_id) == set(bookings.index[bookings[flag]]), name
        booked = bookings.loc[fin.booking_id]
        assert (fin.user_id.to_numpy() == booked.user_id.to_numpy()).all(), name
        assert (fin.amount_cents.to_numpy() <= booked.amount_cents.to_numpy()).all(), name
        assert (fin[first_ts[name]].to_numpy() > booked.booked_ts.to_numpy()).all(), name
        assert (fin.event_dt == fin[first_ts[name]].dt.date).all(), name
    assert bookings.is_refunded.sum() > 10
    chargebacks = read(medium_lake, "fin_chargebacks")
    outcome = bookings.loc[chargebacks.booking_id, "chargeback_outcome"].to_numpy()
    assert (chargebacks.outcome.to_numpy() == outcome).all()
    assert (chargebacks.resolved_ts.isna() == (chargebacks.outcome == "pending")).all()
    assert (bookings.chargeback_outcome.isna() == ~bookings.has_chargeback).all()


def test_availability_covers_every_active_listing_every_day(small_lake):
    listings = read(small_lake, "dim_listings")
    snapshots = read(small_lake, "fact_availability_snapshots")
    for day, rows in snapshots.groupby("event_dt"):
        start = pd.Timestamp(day)
        active = (listings.created_ts <= start) & ~(listings.deactivated_ts <= start)
        assert (
            set(rows.listing_id) == set(listings.listing_id[active]) and rows.listing_id.is_unique
        )
    assert 0.1 < (snapshots.open_slots_next_14d == 0).mean() < 0.4
    assert (listings.created_ts < pd.Timestamp(window(small_lake)[0])).mean() > 0.7
    assert (listings.is_active == listings.deactivated_ts.isna()).all()
    verifications = read(small_lake, "fact_doc_verifications").merge(listings, on="listing_id")
    assert (verifications.user_id == verifications.owner_user_id).all()


# ------------------------------------------------------------------------ experiments


def test_exposures_follow_the_weights_and_crawlers_always_see_control(medium_lake):
    exposures = read(medium_lake, "fact_experiment_exposures")
    assert not exposures.duplicated(["experiment_key", "identity_id"]).any()
    bots = exposures.user_agent.str.contains(CRAWLERS)
    assert 0 < bots.mean() < 0.01 and (exposures.variant[bots] == "control").all()
    for exp in EXPERIMENTS:
        rows = exposures[(exposures.experiment_key == exp.key) & ~bots]
        observed = rows.variant.value_counts().reindex(list(exp.variants)).to_numpy()
        expected = np.array(exp.weights) / sum(exp.weights) * observed.sum()
        assert stats.chisquare(observed, expected).pvalue > 0.001, (exp.key, observed)


def cuped_lift(rows: pd.DataFrame) -> float:
    theta = np.cov(rows.pre_value, rows.outcome_value)[0, 1] / rows.pre_value.var()
    adjusted = rows.outcome_value - theta * (rows.pre_value - rows.pre_value.mean())
    means = adjusted.groupby(rows.variant).mean()
    return means["treatment"] / means["control"] - 1


def test_search_ranking_has_its_effect_and_the_aa_test_has_none(medium_lake):
    exposures = read(medium_lake, "fact_experiment_exposures")
    humans = exposures[~exposures.user_agent.str.contains(CRAWLERS)]
    by_key = dict(tuple(humans.groupby("experiment_key")))
    assert 0.5 < humans.pre_value.corr(humans.outcome_value) < 0.7
    assert 0.015 < cuped_lift(by_key["search_ranking_v2"]) < 0.06  # configured: +3%
    assert abs(cuped_lift(by_key["checkout_button_color"])) < 0.01
    assert 0.03 < humans.converted.mean() < 0.12


def test_the_outcome_model_carries_the_configured_lift_on_conversion_and_value():
    rng = np.random.default_rng(0)
    n = 2_000_000
    latent = rng.standard_normal(n)
    treated = np.arange(n) % 2 == 1
    pre, post, converted = exposure_outcomes(rng, latent, np.where(treated, 0.03, 0.0))
    assert 0.06 < converted[~treated].mean() < 0.08
    assert 1.015 < converted[treated].mean() / converted[~treated].mean() < 1.045
    assert 1.02 < post[treated].mean() / post[~treated].mean() < 1.04
    assert 0.5 < np.corrcoef(pre, post)[0, 1] < 0.7


# ------------------------------------------------------------------------ growth and privacy


def test_pixels_and_digests_only_ever_follow_marketing_consent(medium_lake):
    changes = read(medium_lake, "consent_changes")
    marketing = changes[changes.flag == "marketing"].sort_values("changed_ts")
    touches = read(medium_lake, "fact_attribution_touches").sort_values("touch_ts")
    emails = read(medium_lake, "fact_messages_sent")
    digests = emails[emails.kind == "digest"].sort_values("sent_ts")
    for rows, at in ((touches, "touch_ts"), (digests, "sent_ts")):
        consent = pd.merge_asof(
            rows,
            marketing[["identity_id", "changed_ts", "value"]],
            left_on=at,
            right_on="changed_ts",
            by="identity_id",
        )
        assert len(consent) > 100 and consent.value.eq(True).all(), at
    assert 0.01 < digests.clicked_ts.notna().mean() < 0.06


def test_conversions_credit_a_recent_touch_and_roas_is_a_few_x(medium_lake):
    conversions = read(medium_lake, "fact_attribution_conversions")
    touches = read(medium_lake, "fact_attribution_touches")
    bookings = read(medium_lake, "fact_bookings").set_index("booking_id")
    assert set(conversions.booking_id) <= set(bookings.index)
    assert (
        conversions.revenue_cents.to_numpy()
        == bookings.loc[conversions.booking_id].amount_cents.to_numpy()
    ).all()
    last = pd.merge_asof(
        conversions.sort_values("converted_ts"),
        touches.sort_values("touch_ts"),
        left_on="converted_ts",
        right_on="touch_ts",
        by="identity_id",
        suffixes=("", "_touch"),
    )
    assert (last.promo_id == last.promo_id_touch).all()
    assert (last.converted_ts - last.touch_ts <= pd.Timedelta(days=30)).all()
    roas = conversions.revenue_cents.sum() / read(medium_lake, "fact_promo_spend").spend_cents.sum()
    assert 1.5 < roas < 8


def test_referrers_were_users_when_they_invited(medium_lake):
    referrals = read(medium_lake, "fact_referrals")
    users = read(medium_lake, "dim_identities").dropna(subset=["user_id"])
    joined = referrals.merge(users, left_on="referrer_user_id", right_on="user_id", validate="m:1")
    assert len(joined) == len(referrals) > 50
    assert (joined.became_user_ts <= joined.invited_ts).all()
    signed = referrals.signed_up_ts.notna()
    assert (referrals.referee_user_id.notna() == signed).all()
    assert 0 < referrals.qualified_ts.notna().sum() < signed.sum()


# ------------------------------------------------------------------------ support and safety


def test_support_and_safety_tables_are_consistent(small_lake):
    tickets = read(small_lake, "support_tickets")
    assert (
        tickets.first_response_ts.dropna() >= tickets.created_ts[tickets.first_response_ts.notna()]
    ).all()
    auto = tickets[tickets.auto_resolved]
    assert len(auto) and (auto.resolved_ts == auto.first_response_ts).all()
    notices = read(small_lake, "support_dmca_notices")
    takedowns = read(small_lake, "fact_takedowns")
    taken = notices[notices.action == "takedown"]
    assert set(takedowns.item_id[takedowns.source == "dmca"]) == set(taken.listing_id)
    assert (
        takedowns.propagated_ts.dropna() > takedowns.requested_ts[takedowns.propagated_ts.notna()]
    ).all()
    checks = read(small_lake, "fact_sfw_checks")
    assert 0.002 < checks.is_violation.mean() < 0.01
    assert (checks.is_public_surface == (checks.surface != "messages")).all()
    landings = read(small_lake, "fact_seo_landings")
    assert not landings.duplicated(["landing_path", "event_dt"]).any()
    assert 200 < landings.landing_path.nunique() < 1000
    assert (landings.clicks <= landings.impressions).all()
    assert (landings.impressions[~landings.is_indexed] == 0).all()


# ------------------------------------------------------------------------ determinism


def test_the_same_arguments_give_the_same_rows(tmp_path):
    config = LakeConfig(days=4, scale=0.05, seed=5, end_date=date(2025, 6, 30))
    generate_lake(tmp_path / "a", config)
    generate_lake(tmp_path / "b", config)
    generate_lake(
        tmp_path / "c", LakeConfig(days=4, scale=0.05, seed=6, end_date=date(2025, 6, 30))
    )
    for table in TABLES.values():
        if table.writer == "pipeline":
            pd.testing.assert_frame_equal(
                read(tmp_path / "a", table.name), read(tmp_path / "b", table.name)
            )
    assert not read(tmp_path / "a", "raw_events").equals(read(tmp_path / "c", "raw_events"))


def test_bucket_files_hold_the_same_rows_each_in_the_bucket_of_its_id(tmp_path):
    """Splitting partitions into bucket files changes where rows are, never which rows."""
    config = LakeConfig(days=4, scale=0.05, seed=5, end_date=date(2025, 6, 30))
    generate_lake(tmp_path / "whole", config)
    generate_lake(tmp_path / "split", replace(config, rows_per_file=300))
    split_tables = set()
    for table in TABLES.values():
        if table.writer != "pipeline":
            continue
        whole, split = read(tmp_path / "whole", table.name), read(tmp_path / "split", table.name)
        columns = list(whole.columns)
        pd.testing.assert_frame_equal(
            whole.sort_values(columns).reset_index(drop=True),
            split.sort_values(columns).reset_index(drop=True),
        )
        files = data_files(tmp_path / "split", table)
        by_directory = pd.Series([f.parent for f in files]).value_counts()
        if by_directory.max() == 1:
            continue
        split_tables.add(table.name)
        for path in files:
            count = int(by_directory[path.parent])
            assert count & (count - 1) == 0, path  # a power of two
            ids = pq.read_table(path, columns=[table.bucket_column]).column(0).to_pylist()
            bucket = int(path.stem.removeprefix("part-"))
            assert {bucket_of(value, count) for value in ids} <= {bucket}, path
            assert len(ids) <= 2 * 300, path
    assert {"raw_events", "events", "dim_identities"} <= split_tables
