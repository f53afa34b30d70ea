"""Marketing: promotions and their spend, e-mails (digests need marketing consent) and the
clicks that bring people back, referrals."""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from demo_lake.arrays import take, vocab
from demo_lake.config import LakeConfig
from demo_lake.ids import make_ids, salt
from demo_lake.timeline import DAY, HOUR, MINUTE, NEVER, SEC, lognormal, time_of_day
from demo_lake.world import World

PROMO_CHANNELS = ("paid_search", "paid_social", "affiliate", "display")
_CPC_CENTS = np.array([55.0, 30.0, 80.0, 10.0])
EMAIL_KINDS = pa.array(["digest", "alert"])


@dataclass(frozen=True)
class Promos:
    channel: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray
    intensity: np.ndarray
    ids: pa.Array

    def active(self, d: int) -> np.ndarray:
        return (self.first_day <= d) & (d <= self.last_day)


def build_promos(rng: np.random.Generator, cfg: LakeConfig) -> Promos:
    # Two promotions per channel: one always on, one flighted for part of the window.
    channel = np.repeat(np.arange(len(PROMO_CHANNELS)), 2)
    flighted = np.tile([False, True], len(PROMO_CHANNELS))
    first = np.where(flighted, (rng.random(len(channel)) * cfg.days * 0.5).astype(int), 0)
    last = np.where(flighted, first + (cfg.days * rng.uniform(0.3, 0.6, len(channel))), cfg.days)
    names = [f"{PROMO_CHANNELS[c]}_{i % 2 + 1:02d}" for i, c in enumerate(channel)]
    return Promos(
        channel=channel,
        first_day=first,
        last_day=last.astype(int),
        intensity=rng.lognormal(0, 0.5, len(channel)) * np.array([3, 2, 1, 1.5])[channel],
        ids=vocab(names),
    )


@dataclass
class Clicks:
    ident: np.ndarray
    ts: np.ndarray
    message_ids: pa.Array
    kind: np.ndarray

    def take(self, idx: np.ndarray) -> "Clicks":
        return Clicks(self.ident[idx], self.ts[idx], self.message_ids.take(idx), self.kind[idx])

    def split(self, before: int) -> tuple["Clicks", "Clicks"]:
        """(clicks before ``before``, the rest)."""
        now = self.ts < before
        return self.take(np.flatnonzero(now)), self.take(np.flatnonzero(~now))


NO_CLICKS = Clicks(
    np.zeros(0, np.int64), np.zeros(0, np.int64), pa.array([], pa.string()), np.zeros(0, np.int8)
)


def emails(w: World, rng: np.random.Generator, d: int, day0: int) -> None:
    """Monday digests to users with marketing consent; alerts (service mail) any day. Clicks
    start sessions on the day they happen."""
    idn = w.identities
    users = np.flatnonzero(idn.became_user <= day0)
    digest = users[idn.consent[0, users]] if w.weekday[d] == 0 else users[:0]
    alert = users[rng.integers(0, max(len(users), 1), rng.poisson(0.015 * len(users)))]
    ident = np.concatenate([digest, alert])
    kind = np.repeat(np.array([0, 1], dtype=np.int8), [len(digest), len(alert)])
    sent = np.concatenate(
        [
            day0 + 6 * HOUR + (rng.random(len(digest)) * 90 * MINUTE).astype(np.int64),
            day0 + time_of_day(rng, len(alert)),
        ]
    )
    m = len(ident)
    opened = np.where(
        rng.random(m) < np.where(kind == 0, 0.24, 0.38),
        sent + lognormal(rng, 2 * HOUR, 1.2, m),
        NEVER,
    )
    clicked = np.where(
        (opened < NEVER) & (rng.random(m) < np.where(kind == 0, 0.12, 0.2)),
        opened + lognormal(rng, 40 * SEC, 1.0, m),
        NEVER,
    )
    message_ids = w.ids("eml_", d, m)
    w.sink.add(
        "fact_messages_sent",
        sent // DAY,
        {
            "message_id": message_ids,
            "identity_id": idn.identity_ids.take(ident),
            "user_id": idn.user_ids.take(ident),
            "kind": take(EMAIL_KINDS, kind),
            "sent_ts": sent,
            "opened_ts": opened,
            "clicked_ts": clicked,
        },
    )
    c = np.flatnonzero(clicked <= w.end)
    new = Clicks(ident[c], clicked[c], message_ids.take(c), kind[c])
    w.clicks = Clicks(
        np.concatenate([w.clicks.ident, new.ident]),
        np.concatenate([w.clicks.ts, new.ts]),
        pa.concat_arrays([w.clicks.message_ids, new.message_ids]),
        np.concatenate([w.clicks.kind, new.kind]),
    )
    w.digests = (digest, sent[: len(digest)])  # recipients in ascending order


def promo_spend(w: World, rng: np.random.Generator, d: int) -> None:
    """Spend follows the paid visits bought (cost per click by channel, with noise)."""
    active = np.flatnonzero(w.promos.active(d))
    channel = w.promos.channel[active]
    spend = w.promo_sessions[active] * _CPC_CENTS[channel] * rng.lognormal(0, 0.1, len(active))
    w.sink.add(
        "fact_promo_spend",
        np.full(len(active), w.sink.first_day + d),
        {
            "promo_id": w.promos.ids.take(active),
            "channel": take(vocab(PROMO_CHANNELS), channel),
            "spend_cents": spend.round().astype(np.int64),
        },
    )


def referrals(w: World, rng: np.random.Generator) -> None:
    """Invitations used by identities first seen in the window; most who sign up qualify
    later. Written up front: every row's partition lies in the window."""
    idn = w.identities
    seen = np.arange(idn.day_bounds[0], idn.day_bounds[-1])
    seen = seen[~idn.is_crawler[seen]]
    signs_up = idn.became_user[seen] < NEVER
    referee = seen[rng.random(len(seen)) < np.where(signs_up, 0.15, 0.04)]
    invited = idn.first_seen[referee] - lognormal(rng, DAY, 1.0, len(referee))
    users = np.flatnonzero(idn.became_user < NEVER)
    users = users[np.argsort(idn.became_user[users], kind="stable")]
    eligible = np.searchsorted(idn.became_user[users], invited, side="right")
    keep = (invited >= w.start) & (eligible > 0)
    referee, invited, eligible = referee[keep], invited[keep], eligible[keep]
    m = len(referee)
    referrer = users[(rng.random(m) * eligible).astype(np.int64)]
    signed = idn.became_user[referee]
    qualifies = (signed < NEVER) & (rng.random(m) < 0.4)
    qualified = np.where(qualifies, signed + lognormal(rng, 9 * DAY, 0.8, m), NEVER)
    w.sink.add(
        "fact_referrals",
        invited // DAY,
        {
            "referral_id": make_ids("ref_", np.arange(m), salt(w.cfg.seed, "ref_")),
            "referrer_user_id": idn.user_ids.take(referrer),
            "referee_identity_id": idn.identity_ids.take(referee),
            "referee_user_id": idn.user_at(referee, w.end),
            "invited_ts": invited,
            "signed_up_ts": signed,
            "qualified_ts": qualified,
        },
    )
