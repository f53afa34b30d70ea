"""Consent: banner answers on a first visit, changes in settings and through the API, the whole
log back to before the window, and the state each identity holds at the end of every day."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from demo_lake.arrays import const, json_objects, latest, take, vocab
from demo_lake.events import Blocks, E
from demo_lake.ids import make_ids, salt
from demo_lake.sessions import Counts, Sessions
from demo_lake.timeline import DAY, NEVER, SEC
from demo_lake.world import World

CONSENT_FLAGS = ("marketing", "analytics", "personalization")
_CONSENT_YES = np.array([0.45, 0.70, 0.60])  # banner choices
CONSENT_SOURCES = ("banner", "settings", "api")
_BOOLS = pa.array(["false", "true"])


@dataclass(frozen=True)
class Consent:
    """The day's consent_change events: their rows among the events and what they set."""

    rows: slice
    flag: np.ndarray
    value: np.ndarray
    source: np.ndarray


def consent_events(
    w: World, rng: np.random.Generator, b: Blocks, ss: Sessions, c: Counts
) -> Consent:
    """The banner on a first visit (three answers) and now and then a change in settings."""
    n = len(ss.ident)
    banner = ss.first & ~c.crawler & (rng.random(n) < 0.75)
    settings = np.flatnonzero(c.buyer & ~banner & (rng.random(n) < 0.004))
    b_sess = np.repeat(np.flatnonzero(banner), 3)
    b_flag = np.tile(np.arange(3), int(banner.sum()))
    b_value = rng.random(len(b_sess)) < _CONSENT_YES[b_flag]
    s_flag = rng.integers(0, 3, len(settings))
    # Today's digest was sent on the consent held at sending: no revocation before it.
    s_flag[(s_flag == 0) & (ss.start[settings] < _digest_sent(w, ss.ident[settings]))] = 1
    s_value = ~w.identities.consent[s_flag, ss.ident[settings]]
    flag = np.concatenate([b_flag, s_flag])
    value = np.concatenate([b_value, s_value])
    source = np.repeat([0, 1], [len(b_sess), len(settings)])
    rows = b.add(
        E.CONSENT_CHANGE,
        np.concatenate([b_sess, settings]),
        np.concatenate([2.0 + b_flag, np.full(len(settings), 50_000.0)]),
        json_objects(
            ("flag", take(vocab(CONSENT_FLAGS), flag), True),
            ("value", take(_BOOLS, value), False),
            ("source", take(vocab(CONSENT_SOURCES), source), True),
        ),
    )
    return Consent(rows, flag, value, source)


def _digest_sent(w: World, ident: np.ndarray) -> np.ndarray:
    """When today's digest went to each identity (NEVER if none)."""
    recipients, sent = w.digests
    out = np.full(len(ident), NEVER)
    if len(recipients):
        pos = np.minimum(np.searchsorted(recipients, ident), len(recipients) - 1)
        found = recipients[pos] == ident
        out[found] = sent[pos[found]]
    return out


def consent_rows(
    w: World,
    rng: np.random.Generator,
    d: int,
    ss: Sessions,
    ev: dict[str, Any],
    ts: np.ndarray,
    consent: Consent,
) -> None:
    """consent_changes: the banner and settings events plus changes made through the API."""
    idn, day0 = w.identities, w.start + d * DAY
    users = np.flatnonzero(idn.became_user <= day0)
    n_api = rng.poisson(3 * w.cfg.scale) if len(users) else 0
    api_ident = users[rng.integers(0, max(len(users), 1), n_api)]
    api_ts = day0 + (rng.random(n_api) * DAY).astype(np.int64)
    api_flag = rng.integers(0, 3, n_api)
    api_flag[(api_flag == 0) & (api_ts < _digest_sent(w, api_ident))] = 1
    ident = np.concatenate([ss.ident[ev["sess"][consent.rows]], api_ident])
    at = np.concatenate([ts[consent.rows], api_ts])
    flag = np.concatenate([consent.flag, api_flag])
    value = np.concatenate([consent.value, rng.random(n_api) < 0.3])
    source = np.concatenate([consent.source, np.full(n_api, 2)])
    w.sink.add(
        "consent_changes",
        at // DAY,
        {
            "change_id": w.ids("cns_", d, len(at)),
            "identity_id": idn.identity_ids.take(ident),
            "user_id": idn.user_at(ident, at),
            "flag": take(vocab(CONSENT_FLAGS), flag),
            "value": value,
            "source": take(vocab(CONSENT_SOURCES), source),
            "changed_ts": at,
        },
    )
    w.changes = (ident, at, flag, value)


def apply_consent(w: World) -> None:
    """End of day: the last change of each identity and flag is the new state."""
    ident, at, flag, value = w.changes
    order = np.lexsort((at, ident, flag))[::-1]
    key = flag[order].astype(np.int64) * len(w.identities.first_seen) + ident[order]
    _, last = np.unique(key, return_index=True)
    rows = order[last]
    w.identities.consent[flag[rows], ident[rows]] = value[rows]


def marketing_consent_at(w: World, ident: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Marketing consent as of ``at`` (today): the latest change so far, else the day's
    starting state."""
    c_ident, c_at, c_flag, c_value = w.changes
    m = c_flag == 0
    found, value = latest(c_ident[m], c_at[m], c_value[m], ident, at, w.day0)
    return np.where(found, value, w.identities.consent[0, ident])


def consent_history(w: World, rng: np.random.Generator) -> None:
    """Banner answers of identities first seen before the window, so that consent_changes
    is the whole log: any identity's consent at any time is its latest row (else no)."""
    idn = w.identities
    before = np.flatnonzero(idn.first_seen < w.start - 10 * SEC)  # answers before too
    answered = before[rng.random(len(before)) < 0.75]
    flag = np.tile(np.arange(3), len(answered))
    ident = np.repeat(answered, 3)
    value = rng.random(len(ident)) < _CONSENT_YES[flag]
    at = idn.first_seen[ident] + (2 + flag) * SEC
    idn.consent[flag, ident] = value
    w.sink.write_history(
        "consent_changes",
        at // DAY,
        {
            # Counters above any in-window day's, so ids never collide.
            "change_id": make_ids("cns_", (1 << 47) + np.arange(len(at)), salt(w.cfg.seed, "cns_")),
            "identity_id": idn.identity_ids.take(ident),
            "user_id": idn.user_at(ident, at),
            "flag": take(vocab(CONSENT_FLAGS), flag),
            "value": value,
            "source": const("banner", len(at)),
            "changed_ts": at,
        },
    )
