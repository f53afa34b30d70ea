import re

import duckdb
import pytest

from demo_lake.clients import PLATFORMS, USER_AGENTS
from experiments.crawlers import CRAWLER_PATTERN, KNOWN_CRAWLERS, is_crawler

HUMANS = [ua for ua, platform in zip(USER_AGENTS, PLATFORMS, strict=True) if platform != "crawler"]
BOTS = [ua for ua, platform in zip(USER_AGENTS, PLATFORMS, strict=True) if platform == "crawler"]
MORE_BOTS = [
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
]


def test_fragments_are_plain_literals_in_every_regex_dialect():
    assert all(re.fullmatch(r"[a-z0-9-]+", fragment) for fragment in KNOWN_CRAWLERS)
    assert len(set(KNOWN_CRAWLERS)) == len(KNOWN_CRAWLERS)


@pytest.mark.parametrize("agent", BOTS + MORE_BOTS)
def test_crawlers_are_recognised(agent):
    assert is_crawler(agent)


@pytest.mark.parametrize("agent", [*HUMANS, "", None, "curl/8.5.0"])
def test_people_and_missing_agents_are_not_crawlers(agent):
    assert not is_crawler(agent)


def test_the_sql_pattern_decides_like_python_on_duckdb():
    agents = HUMANS + BOTS + MORE_BOTS
    con = duckdb.connect()
    flags = con.execute(
        "SELECT regexp_matches(lower(a), $p) FROM unnest($agents) AS t(a)",
        {"p": CRAWLER_PATTERN, "agents": agents},
    ).fetchall()
    assert [flag for (flag,) in flags] == [is_crawler(a) for a in agents]
