"""Support: tickets opened during sessions, with their SLA, first response and resolution."""

import numpy as np

from demo_lake.arrays import choice, take, vocab
from demo_lake.config import TICKETS_PER_SESSION
from demo_lake.sessions import Sessions
from demo_lake.timeline import DAY, HOUR, MINUTE, NEVER, SEC, lognormal
from demo_lake.world import World

TICKET_CATEGORIES = ("account", "booking", "refund", "safety", "dmca", "other")
TICKET_CHANNELS = ("email", "chat", "web_form")
PRIORITIES = ("low", "normal", "high", "urgent")
_SLA = np.array([48 * HOUR, 12 * HOUR, 4 * HOUR, HOUR])  # first response due, by priority
_URGENCY = np.array([1.3, 1.0, 0.5, 0.25])  # how much slower than usual agents answer, by priority


def tickets(w: World, rng: np.random.Generator, d: int, ss: Sessions) -> None:
    """Tickets opened during sessions; agents answer slower at weekends."""
    idn = w.identities
    human = np.flatnonzero(~idn.is_crawler[ss.ident])
    m = rng.poisson(TICKETS_PER_SESSION * len(human)) if len(human) else 0
    picked = human[rng.integers(0, max(len(human), 1), m)]
    ident = ss.ident[picked]
    created = ss.start[picked] + lognormal(rng, 10 * MINUTE, 0.8, m)
    category = choice(rng, [22, 20, 18, 8, 4, 28], m)  # TICKET_CATEGORIES
    safety = category == TICKET_CATEGORIES.index("safety")
    priority = np.where(safety, 2 + (rng.random(m) < 0.4), choice(rng, [25, 55, 17, 3], m))
    simple = np.isin(category, [TICKET_CATEGORIES.index(c) for c in ("account", "other")])
    auto = simple & (rng.random(m) < 0.3)
    slow = _URGENCY[priority] * (1.6 if w.weekday[d] >= 5 else 1.0)
    wait = np.where(
        auto,
        lognormal(rng, 20 * SEC, 0.5, m),
        (lognormal(rng, 90 * MINUTE, 1.1, m) * slow).astype(np.int64),
    )
    responded = created + wait
    stuck = ~auto & (rng.random(m) < 0.03)
    resolved = np.where(
        auto, responded, np.where(stuck, NEVER, responded + lognormal(rng, 18 * HOUR, 1.2, m))
    )
    w.sink.add(
        "support_tickets",
        created // DAY,
        {
            "ticket_id": w.ids("tkt_", d, m),
            "identity_id": idn.identity_ids.take(ident),
            "user_id": idn.user_at(ident, created),
            "channel": take(vocab(TICKET_CHANNELS), choice(rng, [45, 35, 20], m)),
            "category": take(vocab(TICKET_CATEGORIES), category),
            "created_ts": created,
            "first_response_ts": responded,
            "resolved_ts": resolved,
            "auto_resolved": auto,
            "sla_due_ts": created + _SLA[priority],
            "priority": take(vocab(PRIORITIES), priority),
        },
    )
