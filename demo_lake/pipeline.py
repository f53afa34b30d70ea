"""The event pipeline: bronze (with late, duplicated and dead-lettered events), silver
(deduplicated, minus lost events), the gold funnel, and what the validator rejected."""

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from demo_lake.arrays import choice, const, take, vocab
from demo_lake.clients import APP_PLATFORMS, USER_AGENTS
from demo_lake.config import (
    BASE_LOSS,
    DEAD_LETTER_SHARE,
    DUPLICATE_SHARE,
    INCIDENT_LOSS,
    LATE_SESSION_SHARE,
)
from demo_lake.events import EVENT_NAMES, FUNNEL_STEPS, STEP_CODES, E
from demo_lake.listings import LISTING_KINDS
from demo_lake.sessions import Sessions
from demo_lake.timeline import DAY, MINUTE, SEC, lognormal
from demo_lake.world import World
from experiments.surfaces import SURFACES

MISTYPED_NAMES = pa.array(["page_veiw", "favourite_add"])  # unknown names for page_view, favorite
PII_KEYS = ("email", "phone_number", "ip_address")
PII_VALUES = ("guest@example.com", "+49 151 00000000", "192.0.2.10")
DEAD_LETTER_REASONS = (
    "schema_validation_failed:missing_field:path",
    "schema_validation_failed:missing_field:listing_id",
    "unknown_event_name",
    "payload_too_large",
    *(f"pii_key_not_allowed:{key}" for key in PII_KEYS),
    "malformed_json",
)


def land_events(
    w: World, rng: np.random.Generator, d: int, ss: Sessions, ev: dict[str, Any], ts: np.ndarray
) -> None:
    """Bronze (with late, duplicated and dead-lettered events), silver (deduplicated, minus
    lost events) and the gold funnel."""
    idn, lst, n = w.identities, w.listings, len(ts)
    etype, sess = ev["etype"], ev["sess"]
    ident = ss.ident[sess]
    late = (idn.platform[ss.ident] < APP_PLATFORMS) & (
        rng.random(len(ss.ident)) < LATE_SESSION_SHARE
    )
    lag = np.where(late, lognormal(rng, 1.5 * DAY, 0.6, len(late)), 0)
    ingest = ts + lag[sess] + lognormal(rng, 1.2 * SEC, 1.0, n) + 1
    dead = np.isin(etype, (E.PAGE_VIEW, E.FAVORITE_ADD)) & (rng.random(n) < DEAD_LETTER_SHARE)
    dup = ~dead & (rng.random(n) < DUPLICATE_SHARE)
    loss = INCIDENT_LOSS if d == w.loss_day else BASE_LOSS
    lost = ~dead & ~dup & (rng.random(n) < loss)
    late_batch = np.where(rng.random(n) < 0.003, rng.uniform(20, 90, n) * MINUTE, 0)
    silver_at = ingest + lognormal(rng, 40 * SEC, 0.85, n) + late_batch.astype(np.int64)
    gold_lag = lognormal(rng, 6.5 * MINUTE, 0.7, n) * (4 if d == w.lag_day else 1)
    gold_at = silver_at + gold_lag

    event_id = w.ids("evt_", d, n)
    identity, user = idn.identity_ids.take(ident), idn.user_at(ident, ts)
    session = ss.ids.take(sess)
    agent = take(vocab(USER_AGENTS), idn.platform[ident])
    name = take(vocab(EVENT_NAMES), etype)

    kept, copies = np.flatnonzero(~dead), np.flatnonzero(dup)
    raw = np.concatenate([kept, copies])
    retry = ingest[copies] + lognormal(rng, 20 * SEC, 1.5, len(copies))
    raw_ingest = np.concatenate([ingest[kept], retry])
    w.sink.add(
        "raw_events",
        raw_ingest // DAY,
        {
            "event_id": event_id.take(raw),
            "event_name": name.take(raw),
            "schema_version": ev["version"][raw],
            "identity_id": identity.take(raw),
            "user_id": user.take(raw),
            "session_id": session.take(raw),
            "client_ts": ts[raw],
            "ingest_ts": raw_ingest,
            "user_agent": agent.take(raw),
            "payload": ev["payload"].take(raw),
        },
    )

    listing = ev["listing"]
    has_listing = listing >= 0
    studio = has_listing & lst.is_studio[np.maximum(listing, 0)]
    listing_id = lst.ids.take(pa.array(np.maximum(listing, 0), mask=~has_listing))
    no_id = pa.scalar(None, pa.string())
    silver = np.flatnonzero(~dead & ~lost & (silver_at <= w.end))
    w.sink.add(
        "events",
        ingest[silver] // DAY,
        {
            "event_id": event_id.take(silver),
            "event_name": name.take(silver),
            "identity_id": identity.take(silver),
            "user_id": user.take(silver),
            "session_id": session.take(silver),
            "client_ts": ts[silver],
            "ingest_ts": ingest[silver],
            "silver_processed_ts": silver_at[silver],
            "surface": take(vocab(SURFACES), ev["surface"][silver]),
            "profile_id": pc.if_else(pa.array(studio[silver]), no_id, listing_id.take(silver)),
            "studio_id": pc.if_else(pa.array(studio[silver]), listing_id.take(silver), no_id),
            "user_agent": agent.take(silver),
        },
    )
    step = STEP_CODES[etype]
    gold = silver[(step[silver] >= 0) & (gold_at[silver] <= w.end)]
    w.sink.add(
        "fact_funnel_events",
        ts[gold] // DAY,
        {
            "event_id": event_id.take(gold),
            "identity_id": identity.take(gold),
            "user_id": user.take(gold),
            "session_id": session.take(gold),
            "step": take(vocab(FUNNEL_STEPS), step[gold]),
            "profile_id": listing_id.take(gold),
            "listing_kind": take(LISTING_KINDS, studio[gold], null=~has_listing[gold]),
            "event_ts": ts[gold],
            "silver_processed_ts": silver_at[gold],
            "gold_processed_ts": gold_at[gold],
        },
    )
    letters = np.flatnonzero(dead)
    dead_letters(w, rng, letters, event_id, name, identity, user, ingest, ev, etype)


def dead_letters(
    w: World,
    rng: np.random.Generator,
    rows: np.ndarray,
    event_id: pa.Array,
    name: pa.Array,
    identity: pa.Array,
    user: pa.Array,
    ingest: np.ndarray,
    ev: dict[str, Any],
    etype: np.ndarray,
) -> None:
    """What the validator rejected, each with a reason and the payload as received."""
    m = len(rows)
    payload = ev["payload"].take(rows)
    is_page = etype[rows] == E.PAGE_VIEW
    kind = choice(rng, [0.40, 0.20, 0.10, 0.15, 0.15], m)
    pii_key = rng.integers(0, len(PII_KEYS), m)
    reason = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [np.where(is_page, 0, 1), 2, 3, 4 + pii_key],
        default=4 + len(PII_KEYS),
    )
    event_name = pc.if_else(pa.array(kind == 1), take(MISTYPED_NAMES, ~is_page), name.take(rows))
    missing = take(vocab(['{"referrer":"direct"}', '{"listing_kind":"profile"}']), ~is_page)
    too_large = const('{"path":"/berlin/photographers","blob":"' + "A" * 982, m)
    with_pii = pc.binary_join_element_wise(
        '{"',
        take(vocab(PII_KEYS), pii_key),
        '":"',
        take(vocab(PII_VALUES), pii_key),
        '",',
        pc.utf8_slice_codeunits(payload, 1),
        "",
    )
    truncated = pc.utf8_slice_codeunits(payload, 0, -7)
    # Unknown names (kind 1) arrive with an intact payload; the others as shown.
    for k, received in ((0, missing), (2, too_large), (3, with_pii), (4, truncated)):
        mask = pa.array(kind == k)
        payload = pc.replace_with_mask(payload, mask, received.filter(mask))
    w.sink.add(
        "dead_letter_events",
        ingest[rows] // DAY,
        {
            "event_id": event_id.take(rows),
            "event_name": event_name,
            "identity_id": identity.take(rows),
            "user_id": user.take(rows),
            "reason": take(vocab(DEAD_LETTER_REASONS), reason),
            "received_ts": ingest[rows],
            "payload": payload,
        },
    )
