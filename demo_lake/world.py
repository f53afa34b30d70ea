"""The state every domain of the demo lake reads and changes: the window, the pools of
identities, listings, promotions and landing pages, the sink, and what one day leaves to the
next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from demo_lake.ids import make_ids, salt

if TYPE_CHECKING:  # the domains import World: their types are needed for annotations only
    from demo_lake.config import LakeConfig
    from demo_lake.identities import Identities
    from demo_lake.listings import Listings
    from demo_lake.marketing import Clicks, Promos
    from demo_lake.seo import Landings
    from demo_lake.sink import Sink


@dataclass
class World:
    cfg: LakeConfig
    start: int  # the window's first microsecond
    sink: Sink
    weekday: np.ndarray  # of each window day, Monday 0
    season: np.ndarray  # traffic multiplier of each window day
    listings: Listings
    identities: Identities
    promos: Promos
    landings: Landings
    loss_day: int  # the window day that loses ~6% of events on the way to silver
    lag_day: int  # the window day with a slow gold load
    clicks: Clicks  # e-mail clicks that have not started their session yet
    # The day being built (set by build.run_day and the domains, in the order they run):
    day0: int = field(init=False)  # its first microsecond
    day_clicks: Clicks = field(init=False)  # its e-mail clicks (marketing -> sessions)
    promo_sessions: np.ndarray = field(init=False)  # paid sessions per promotion
    digests: tuple[np.ndarray, np.ndarray] = field(init=False)  # recipients, sent times
    changes: tuple[np.ndarray, ...] = field(init=False)  # consent changes: ident, at, flag, value
    _salts: dict[str, np.uint64] = field(default_factory=dict)

    @property
    def end(self) -> int:
        """The window's last microsecond: anything later has not happened yet."""
        return self.sink.end

    def ids(self, prefix: str, d: int, n: int) -> pa.Array:
        """Ids unique per prefix: window day and a per-day sequence, mixed."""
        if prefix not in self._salts:
            self._salts[prefix] = salt(self.cfg.seed, prefix)
        counters = (np.int64(d) << np.int64(28)) | np.arange(n, dtype=np.int64)
        return make_ids(prefix, counters, self._salts[prefix])
