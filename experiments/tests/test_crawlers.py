"""The crawler rule: the maintained list (crawler-user-agents), decided alike by assignment's
Python and by the results job's SQL on DuckDB and PostgreSQL."""

import datetime
import re

import crawleruseragents
import pandas as pd
import pytest

from experiments import queries
from experiments.crawlers import CRAWLER_PATTERN, END_MARK, UnportablePattern, is_crawler, portable
from experiments.tests.agents import BROWSERS, EDGES, INSTANCES, LISTED, NAMED
from experiments.tests.builders import exposures, write_exposures
from warehouse.engines.duckdb import DuckDBEngine
from warehouse.engines.pg_loader import load_lake
from warehouse.engines.postgres import PostgresEngine

DAY = datetime.date(2026, 1, 20)


def test_every_listed_pattern_is_rewritten_and_keeps_its_examples():
    for entry in LISTED:
        rewritten = re.compile(portable(entry["pattern"]))
        for agent in entry["instances"]:
            assert rewritten.search(agent + END_MARK), (entry["pattern"], agent)


@pytest.mark.parametrize("agent", NAMED)
def test_the_crawlers_the_old_list_missed_are_crawlers(agent):
    assert is_crawler(agent)


def test_every_example_is_a_crawler_as_the_package_says():
    assert all(crawleruseragents.is_crawler(agent) for agent in INSTANCES + NAMED)
    assert all(is_crawler(agent) for agent in INSTANCES)


@pytest.mark.parametrize("agent", [*BROWSERS, "", None])
def test_browsers_and_missing_agents_are_not_crawlers(agent):
    assert not is_crawler(agent)
    assert not crawleruseragents.is_crawler(agent or "")


def test_command_line_clients_are_crawlers_now():
    # The maintained list counts scripted clients (^curl, Wget, python-requests) as crawlers;
    # the old hand list did not.
    assert is_crawler("curl/8.5.0") and is_crawler("Wget/1.21.4")


def test_the_edges_follow_the_documented_rule():
    # $ is the end of the text only; \d is an ASCII digit; [\s\S] crosses line breaks.
    assert not is_crawler("Probe by SSL Labs\n") and is_crawler("Probe by SSL Labs")
    assert is_crawler("AdsBot-Google")
    assert not is_crawler("BlogTraffic/\u0663.\u0664 Feed-Fetcher")
    assert is_crawler("BlogTraffic/3.14 Feed-Fetcher")
    assert is_crawler("ContextualBot\nby outcomes.net")
    assert is_crawler("raven sentry/1.0") and not is_crawler("Xsentry/1.0")


@pytest.mark.parametrize(
    "pattern",
    ["a.b", "(?i)bot", "bot{2}", r"\w+bot", "[a-z]bot", "[.]bot", "bot**", "(bot", "bot)", "a||b"],
)
def test_syntax_outside_the_portable_subset_is_refused(pattern):
    with pytest.raises(UnportablePattern):
        portable(pattern)


@pytest.fixture
def agents_lake(empty_lake):
    agents = INSTANCES + NAMED + BROWSERS + EDGES
    rows = exposures("exp_ua", {"control": len(agents)}, day=DAY).assign(user_agent=agents)
    write_exposures(empty_lake, rows)
    return empty_lake, rows


def crawler_flags(engine) -> dict[str, bool]:
    params = {
        "experiment_key": "exp_ua",
        "start": DAY,
        "end": DAY,
        "crawler_pattern": CRAWLER_PATTERN,
    }
    frame = engine.run(queries.sql("exposure_units"), params).frame
    return dict(zip(frame.identity_id, frame.crawler.astype(bool), strict=True))


def expected_flags(rows: pd.DataFrame) -> dict[str, bool]:
    return {
        unit: is_crawler(agent)
        for unit, agent in zip(rows.identity_id, rows.user_agent, strict=True)
    }


def test_the_results_sql_decides_like_assignment_on_duckdb(agents_lake):
    root, rows = agents_lake
    flags = crawler_flags(DuckDBEngine(root, threads=2, memory_limit="1GB", timeout_s=60))
    crawlers, browsers = len(INSTANCES) + len(NAMED), len(BROWSERS)
    units = list(rows.identity_id)
    assert all(flags[unit] for unit in units[:crawlers])
    assert not any(flags[unit] for unit in units[crawlers : crawlers + browsers])
    assert flags == expected_flags(rows)


def test_the_results_sql_decides_like_assignment_on_postgres(
    agents_lake, warehouse_pg_dsn, pg_schema
):
    root, rows = agents_lake
    load_lake(warehouse_pg_dsn, root, tables=["fact_experiment_exposures"], schema=pg_schema)
    flags = crawler_flags(PostgresEngine(warehouse_pg_dsn, timeout_s=60, schema=pg_schema))
    assert flags == expected_flags(rows)
