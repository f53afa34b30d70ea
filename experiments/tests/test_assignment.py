import hashlib
from collections import Counter

import pytest
from scipy import stats as sps

from experiments.assignment import BUCKETS, AssignmentConfig, assign, bucket_edges, bucket_of
from experiments.tests.agents import INSTANCES, NAMED

CONFIG = AssignmentConfig(
    key="pricing_page_3way",
    salt="5f1c2ab0e4d39a77",
    running=True,
    variants=("control", "b", "c"),
    weights=(0.34, 0.33, 0.33),
)
HUMAN = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Safari/605.1.15"


def reference_bucket(key: str, salt: str, unit: str) -> int:
    """The documented rule, written out independently of the module."""
    digest = hashlib.sha256(f"{key}:{salt}:{unit}".encode()).digest()
    return int(digest[:8].hex(), 16) % 10_000


@pytest.mark.parametrize("unit", ["idn_000000000001", "idn_7f3a9c00b2e1", "42", "ünïcode-ü"])
def test_bucket_is_the_documented_hash(unit):
    assert bucket_of(CONFIG.key, CONFIG.salt, unit) == reference_bucket(
        CONFIG.key, CONFIG.salt, unit
    )


def test_golden_assignments_never_change():
    units = [f"idn_{i:012d}" for i in range(12)]
    expected = []
    for unit in units:
        bucket = reference_bucket(CONFIG.key, CONFIG.salt, unit)
        expected.append("control" if bucket < 3400 else "b" if bucket < 6700 else "c")
    assert [assign(CONFIG, u, HUMAN).variant for u in units] == expected
    assert {a.reason for a in (assign(CONFIG, u, HUMAN) for u in units)} == {"assigned"}


def test_salt_and_key_reshuffle_units():
    units = [str(i) for i in range(2_000)]
    base = [bucket_of("exp", "salt-a", u) for u in units]
    assert base != [bucket_of("exp", "salt-b", u) for u in units]
    assert base != [bucket_of("exp2", "salt-a", u) for u in units]


@pytest.mark.parametrize(
    "weights", [(0.5, 0.5), (0.34, 0.33, 0.33), (0.1, 0.9), (0.2, 0.2, 0.2, 0.4)]
)
def test_weights_are_respected_over_100k_units(weights):
    config = AssignmentConfig("weights_check", "abc", True, tuple("vwxyz"[: len(weights)]), weights)
    counts = Counter(assign(config, f"unit-{i}", HUMAN).variant for i in range(100_000))
    observed = [counts[name] for name in config.variants]
    expected = [100_000 * w for w in weights]
    assert sps.chisquare(observed, expected).pvalue > 0.001


def test_bucket_edges_cover_every_bucket_once():
    assert bucket_edges((0.34, 0.33, 0.33)) == (3400, 6700, BUCKETS)
    assert bucket_edges((1 / 3, 1 / 3, 1 / 3)) == (3333, 6667, BUCKETS)
    assert bucket_edges((0.5, 0.5)) == (5000, BUCKETS)


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        *NAMED,
    ],
)
def test_crawlers_always_get_control(agent):
    answers = {assign(CONFIG, f"unit-{i}", agent) for i in range(300)}
    assert {a.variant for a in answers} == {"control"}
    assert {a.reason for a in answers} == {"crawler"}


def test_every_listed_example_crawler_gets_control():
    answers = [assign(CONFIG, f"unit-{i}", agent) for i, agent in enumerate(INSTANCES)]
    assert {(a.variant, a.reason) for a in answers} == {("control", "crawler")}
    # The same units as people are spread over every variant.
    people = {assign(CONFIG, f"unit-{i}", HUMAN).variant for i in range(len(INSTANCES))}
    assert people == set(CONFIG.variants)


def test_an_experiment_not_running_gives_everyone_control():
    stopped = AssignmentConfig(CONFIG.key, CONFIG.salt, False, CONFIG.variants, CONFIG.weights)
    answers = [assign(stopped, f"unit-{i}", HUMAN) for i in range(300)]
    assert {a.variant for a in answers} == {"control"}
    assert {a.reason for a in answers} == {"not_running"}
    # The bucket is still the unit's own: restarting does not reshuffle anyone.
    assert [a.bucket for a in answers] == [
        bucket_of(CONFIG.key, CONFIG.salt, f"unit-{i}") for i in range(300)
    ]
