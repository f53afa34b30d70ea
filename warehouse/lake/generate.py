"""The deterministic synthetic demo lake: every pipeline-written table of the contract.

One window day at a time, vectorised with numpy and written with pyarrow, so memory stays flat
whatever the scale. Everything random comes from ``default_rng([seed, stream, day])``: the same
arguments give the same rows. Times are int64 microseconds since the epoch (UTC) until they are
written; ``NEVER`` marks something that has not happened, and anything after the window's end
is written as null (or not at all), as a real lake loaded on that day would hold it.

Shapes worth knowing when reading the numbers: weekends are busier; search -> listing view ~34%,
view -> message ~8%, message -> checkout start ~30%, checkout start -> complete ~65%; durations
are lognormal; about a fifth of identities become users; one day (2/3 into the window) loses ~6%
of events on the way to silver and one day (1/3 in) has a slow gold load. consent_changes alone
reaches back before the window (earlier banner answers), so consent at any time is knowable;
marketing touches and digests only ever follow a granted marketing consent. Known crawlers
always see control in experiments.
"""

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.lake import layout
from warehouse.lake.contract import TABLES, Table
from warehouse.lake.storage import partition_dir, table_dir

SEC = 1_000_000
MINUTE = 60 * SEC
HOUR = 60 * MINUTE
DAY = 24 * HOUR
NEVER = np.iinfo(np.int64).max
_EPOCH = date(1970, 1, 1)

ARROW_TYPES: dict[str, pa.DataType] = {
    "varchar": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}

# --- Volumes at scale 1.0 (≈ 2 million raw events over 90 days).
PRE_WINDOW_IDENTITIES = 50_000
NEW_IDENTITIES_PER_DAY = 480
RETURNING_SESSIONS_PER_DAY = 2_800
CRAWLER_SESSIONS_PER_DAY = 2.0
PROFILES, STUDIOS = 3_000, 450
SFW_CHECKS_PER_DAY = 2_500
DMCA_NOTICES_PER_DAY = 2.5
TICKETS_PER_SESSION = 0.01

# --- Behaviour.
USER_SHARE = 0.21
FUNNEL_RATES = {"view": 0.34, "message": 0.08, "checkout_start": 0.30, "checkout_complete": 0.65}
PROMO_SESSION_SHARE = 0.14
SEO_SESSION_SHARE = 0.30
BASE_LOSS, INCIDENT_LOSS = 0.004, 0.06
DUPLICATE_SHARE, DEAD_LETTER_SHARE, LATE_SESSION_SHARE, PII_LEAK_SHARE = 0.004, 0.006, 0.005, 0.001
_HOURLY = np.array(
    [3, 2, 1.5, 1, 1, 1.5, 3, 6, 9, 10, 10, 10, 10.5, 10, 9.5, 9.5, 10, 11, 13, 15, 16, 15, 11, 6]
)
_HOURLY_CDF = np.cumsum(_HOURLY) / _HOURLY.sum()
_HOURLY_CDF[-1] = 1.0  # so that a draw below 1 always lands in an hour
_WEEKDAY = np.array([0.95, 0.93, 0.95, 0.97, 1.05, 1.25, 1.30])  # Monday first

CITIES = (
    "berlin", "hamburg", "munich", "cologne", "frankfurt", "stuttgart", "dusseldorf", "leipzig",
    "vienna", "zurich", "amsterdam", "london", "paris", "barcelona", "milan", "copenhagen",
    "stockholm", "prague", "warsaw", "lisbon",
)  # fmt: skip
CATEGORIES = (
    "photographers", "wedding-photographers", "portrait-photographers", "videographers",
    "photo-studios", "makeup-artists", "models", "retouchers", "drone-pilots",
    "event-photographers", "product-photographers", "fashion-photographers",
    "food-photographers", "newborn-photographers", "headshots",
)  # fmt: skip
BRAND_PAGES = ("/", "/app", "/how-it-works", "/pricing", "/gift-cards")


class E(IntEnum):
    """Event names; the order is the code stored while generating."""

    APP_START = 0
    PAGE_VIEW = 1
    SEARCH = 2
    PROFILE_VIEW = 3
    STUDIO_VIEW = 4
    FAVORITE_ADD = 5
    MESSAGE_SENT = 6
    CHECKOUT_START = 7
    CHECKOUT_COMPLETE = 8
    EMAIL_CLICK = 9
    CONSENT_CHANGE = 10
    EXPERIMENT_EXPOSURE = 11


EVENT_NAMES = (
    "app.start", "page_view", "search", "profile_view", "studio_view", "favorite_add",
    "message_sent", "checkout_start", "checkout_complete", "email_click", "consent_change",
    "experiment_exposure",
)  # fmt: skip
SCHEMA_VERSIONS = np.array([3, 2, 2, 4, 2, 1, 2, 3, 3, 1, 1, 1], dtype=np.int32)
SEARCH_V3_FROM = 0.45  # share of the window after which search payloads gain "filters" (v3)
SURFACES = (
    "app", "landing", "pricing_page", "search_results", "profile_page", "studio_page", "messages",
    "checkout", "email", "settings",
)  # fmt: skip
_SURFACE_OF = {  # where each kind of event happens, unless the event says otherwise
    E.APP_START: "app",
    E.PAGE_VIEW: "landing",
    E.SEARCH: "search_results",
    E.PROFILE_VIEW: "profile_page",
    E.STUDIO_VIEW: "studio_page",
    E.FAVORITE_ADD: "profile_page",
    E.MESSAGE_SENT: "messages",
    E.CHECKOUT_START: "checkout",
    E.CHECKOUT_COMPLETE: "checkout",
    E.EMAIL_CLICK: "email",
    E.CONSENT_CHANGE: "settings",
    E.EXPERIMENT_EXPOSURE: "app",
}
FUNNEL_STEPS = ("search", "profile_view", "message", "checkout_start", "checkout_complete")
_STEP_OF = {
    E.SEARCH: "search",
    E.PROFILE_VIEW: "profile_view",
    E.STUDIO_VIEW: "profile_view",  # the funnel's view step is any listing page
    E.MESSAGE_SENT: "message",
    E.CHECKOUT_START: "checkout_start",
    E.CHECKOUT_COMPLETE: "checkout_complete",
}

PLATFORMS = ("ios", "android", "web", "web", "web", "crawler", "crawler")
USER_AGENTS = (
    "Marketplace/5.12.0 (iPhone; iOS 18.1; Scale/3.00)",
    "Marketplace/5.12.0 (Linux; Android 14; Pixel 8)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
_HUMAN_PLATFORM_P = np.array([0.30, 0.25, 0.22, 0.10, 0.13])
_APP_PLATFORMS = 2  # platform codes below this are the mobile apps (they can send late batches)
_CRAWLER_PLATFORMS = (5, 6)

CONSENT_FLAGS = ("marketing", "analytics", "personalization")
_CONSENT_YES = np.array([0.45, 0.70, 0.60])  # banner choices
CONSENT_SOURCES = ("banner", "settings", "api")


@dataclass(frozen=True)
class Experiment:
    key: str
    variants: tuple[str, ...]
    weights: tuple[float, ...]
    trigger: str  # "search", "view" or "pricing": the session event that exposes the unit
    start_share: float  # share of the window before the experiment starts
    lift: dict[str, float] = field(default_factory=dict)  # relative effect per variant


# Assignment hashes the unit's pool index with the experiment key, so splits match the weights
# exactly in expectation (no sample-ratio mismatch). Known crawlers always get control (no
# cloaking), so analyses must filter them by user_agent.
EXPERIMENTS = (
    Experiment("search_ranking_v2", ("control", "treatment"), (0.5, 0.5), "search", 0.25,
               {"treatment": 0.03}),
    Experiment("checkout_button_color", ("control", "treatment"), (0.5, 0.5), "view", 0.0),
    Experiment("pricing_page_3way", ("control", "b", "c"), (0.34, 0.33, 0.33), "pricing", 0.5),
)  # fmt: skip

PROMO_CHANNELS = ("paid_search", "paid_social", "affiliate", "display")
_STEP_CODES = np.full(len(E), -1, dtype=np.int8)
for _etype, _step in _STEP_OF.items():
    _STEP_CODES[_etype] = FUNNEL_STEPS.index(_step)

# Vocabularies: codes generated as integers are turned into strings by ``take``.
APP_VERSIONS = pa.array(["5.12.0", "5.12.1", "web", "web", "web", "web", "web"])
EMAIL_KINDS = pa.array(["digest", "alert"])
QUERY_CLASSES = pa.array(["non_brand", "brand"])
LISTING_KINDS = pa.array(["profile", "studio"])
BOOLS = pa.array(["false", "true"])
OUTCOMES = pa.array(["won", "lost", "pending"])
MISTYPED_NAMES = pa.array(["page_veiw", "favourite_add"])  # unknown names for page_view, favorite
REFUND_REASONS = (
    "cancelled_by_client", "cancelled_by_provider", "no_show", "quality_complaint", "other"
)  # fmt: skip
CARD_COUNTRIES = ("DE", "AT", "CH", "NL", "GB", "FR", "US")
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
UPDATE_KINDS = ("photos", "pricing", "availability", "description", "services")
TICKET_CATEGORIES = ("account", "booking", "refund", "safety", "dmca", "other")
TICKET_CHANNELS = ("email", "chat", "web_form")
PRIORITIES = ("low", "normal", "high", "urgent")
_SLA = np.array([48 * HOUR, 12 * HOUR, 4 * HOUR, HOUR])  # first response due, by priority
_URGENCY = np.array([1.3, 1.0, 0.5, 0.25])  # how much slower than usual agents answer, by priority
CLAIMANTS = (
    "Getty Images", "Shutterstock", "Alamy", "Agentur Lichtblick", "Studio Nordlicht GmbH",
    "Individual rights holder",
)  # fmt: skip
DMCA_ACTIONS = ("takedown", "counter_notice", "rejected")
SFW_SURFACES = ("search_results", "profile_page", "studio_page", "messages", "landing")
_CPC_CENTS = np.array([55.0, 30.0, 80.0, 10.0])

DEMO_TABLES = tuple(t for t in TABLES.values() if t.writer == "pipeline")


@dataclass(frozen=True)
class LakeConfig:
    days: int
    scale: float
    seed: int
    end_date: date
    # A partition with more rows is split into bucket files (see warehouse.lake.layout).
    rows_per_file: int = layout.ROWS_PER_FILE

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)


@dataclass(frozen=True)
class LakeSummary:
    rows: dict[str, int]
    raw_events: int
    seconds: float


# --------------------------------------------------------------------------- small helpers

_M48 = np.uint64((1 << 48) - 1)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_SHIFTS = np.arange(44, -1, -4, dtype=np.uint64)


def _mix48(x: np.ndarray) -> np.ndarray:
    """A bijection on 48-bit integers: distinct counters give distinct, random-looking ids."""
    z = x & _M48
    for mult, shift in ((0x9E3779B97F4B, 23), (0xBF58476D1CE5, 21), (0x94D049BB1331, 24)):
        z = (z * np.uint64(mult)) & _M48
        z ^= z >> np.uint64(shift)
    return z


def _salt(seed: int, kind: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}:{kind}".encode(), digest_size=6).digest()
    return np.uint64(int.from_bytes(digest, "big"))


def make_ids(prefix: str, counters: np.ndarray, salt: np.uint64) -> pa.Array:
    """``prefix`` + 12 hex digits, unique per distinct counter, built without a Python loop."""
    z = _mix48(counters.astype(np.uint64) + salt)
    head = prefix.encode()
    width = len(head) + 12
    buf = np.empty((len(z), width), dtype=np.uint8)
    buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    for i, shift in enumerate(_SHIFTS):  # one hex digit at a time keeps temporaries small
        buf[:, len(head) + i] = _HEX[((z >> shift) & np.uint64(15)).astype(np.intp)]
    offsets = np.arange(0, (len(z) + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(len(z), pa.py_buffer(offsets), pa.py_buffer(buf))


def _vocab(values: tuple[str, ...] | list[str]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _take(vocab: pa.Array, codes: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return vocab.take(pa.array(np.asarray(codes, dtype=np.int32), mask=null))


def _const(value: str, n: int) -> pa.Array:
    return _take(_vocab([value]), np.zeros(n, dtype=np.int32))


def _num(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def _json(*fields: tuple[str, Any, bool]) -> pa.Array:
    """JSON objects built column-wise from (key, array-or-str, quoted) fields."""
    pieces: list[Any] = []
    literal = "{"
    for i, (key, value, quoted) in enumerate(fields):
        quote = '"' if quoted else ""
        literal += ("," if i else "") + f'"{key}":{quote}'
        if isinstance(value, str):
            literal += value + quote
        else:
            pieces += [pa.scalar(literal), value]
            literal = quote
    pieces += [pa.scalar(literal + "}"), pa.scalar("")]
    return pc.binary_join_element_wise(*pieces)


def _lognormal(rng: np.random.Generator, median_us: float, sigma: float, n: int) -> np.ndarray:
    return (rng.lognormal(np.log(median_us), sigma, n)).astype(np.int64)


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = np.searchsorted(_HOURLY_CDF, rng.random(n), side="right")
    return hour * HOUR + (rng.random(n) * HOUR).astype(np.int64)


def _choice(rng: np.random.Generator, p: np.ndarray | list[float], n: int) -> np.ndarray:
    cdf = np.cumsum(p, dtype=np.float64)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n), side="right").astype(np.int32)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner index, rank within owner) for ``counts[i]`` children of each owner i."""
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(len(owner)) - np.repeat(first, counts)


def _latest(
    ident: np.ndarray,
    at: np.ndarray,
    value: np.ndarray,
    q_ident: np.ndarray,
    q_at: np.ndarray,
    base: int,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query (identity, time): is there a row of that identity at or before the time,
    and the value of the latest such row. Times must lie within two days after ``base``."""
    if len(ident) == 0 or len(q_ident) == 0:
        return np.zeros(len(q_ident), dtype=bool), np.zeros(len(q_ident), dtype=value.dtype)
    key = (ident.astype(np.int64) << 38) | (at - base)
    order = np.argsort(key, kind="stable")
    pos = np.searchsorted(key[order], (q_ident.astype(np.int64) << 38) | (q_at - base), "right")
    pos = np.maximum(pos - 1, 0)
    found = (pos < len(order)) & (ident[order][pos] == q_ident) & (at[order][pos] <= q_at)
    return found, value[order][pos]


def _weighted_pick(rng: np.random.Generator, cum: np.ndarray, upto: int, n: int) -> np.ndarray:
    """Indices below ``upto`` drawn in proportion to the weights whose cumsum is ``cum``."""
    if upto == 0 or n == 0 or cum[upto - 1] <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.searchsorted(cum[:upto], rng.random(n) * cum[upto - 1], side="right")


# --------------------------------------------------------------------------- output


def arrow_schema(table: Table) -> pa.Schema:
    """The file schema of a table: its columns but the Hive partition column."""
    return pa.schema(
        [(c.name, ARROW_TYPES[c.type]) for c in table.columns if c.name != table.partition_column]
    )


def _array(value: Any, typ: pa.DataType, end: int) -> pa.Array:
    if isinstance(value, pa.Array):
        return value if value.type == typ else value.cast(typ)
    value = np.asarray(value)
    if pa.types.is_timestamp(typ):
        return pa.array(value.view("datetime64[us]"), type=typ, mask=value > end)
    if pa.types.is_floating(typ):
        return pa.array(value, type=typ, mask=np.isnan(value))
    return pa.array(value, type=typ)


def _by_day(data: pa.Table, day: np.ndarray) -> Iterator[tuple[int, pa.Table]]:
    """Rows grouped by partition day (one sort, then zero-copy slices)."""
    if len(day) and (day == day[0]).all():
        yield int(day[0]), data
        return
    order = np.argsort(day, kind="stable")
    data = data.take(order)
    values, starts = np.unique(day[order], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    for i, value in enumerate(values.tolist()):
        yield value, data.slice(bounds[i], bounds[i + 1] - bounds[i])


def _copy(data: pa.Table) -> pa.Table:
    return data.take(np.arange(data.num_rows))


class _Sink:
    """Holds rows until their partition day is complete, then writes the partition's files."""

    def __init__(self, root: Path, first_day: int, last_day: int, rows_per_file: int):
        self.root, self.first_day, self.last_day = root, first_day, last_day
        self.rows_per_file = rows_per_file
        self.end = (last_day + 1) * DAY - 1
        self.next_day = first_day  # the next partition day to be flushed
        self.pending: dict[str, dict[int, list[pa.Table]]] = defaultdict(lambda: defaultdict(list))
        self.rows: dict[str, int] = {t.name: 0 for t in DEMO_TABLES}

    def _table(self, table: Table, columns: dict[str, Any]) -> pa.Table:
        schema = arrow_schema(table)
        if set(columns) != set(schema.names):
            raise ValueError(f"{table.name}: columns {sorted(columns)} != {schema.names}")
        return pa.table([_array(columns[f.name], f.type, self.end) for f in schema], schema=schema)

    def add(self, name: str, day: np.ndarray, columns: dict[str, Any]) -> None:
        """Queue rows whose partition is ``day`` (days since epoch); later days than the window's
        last have not happened yet and are dropped."""
        table = TABLES[name]
        data = self._table(table, columns)
        keep = day <= self.last_day
        if not keep.all():
            data, day = data.filter(pa.array(keep)), day[keep]
        if len(day) and day.min() < self.first_day:
            raise ValueError(f"{name}: rows before the window")
        for value, part in _by_day(data, day):
            # A slice keeps its whole parent table alive: copy what waits for a later day.
            self.pending[name][value].append(part if value == self.next_day else _copy(part))

    def write_history(self, name: str, day: np.ndarray, columns: dict[str, Any]) -> None:
        """Write rows older than the window at once, one file per partition."""
        table = TABLES[name]
        data = self._table(table, columns)
        if len(day) and day.max() >= self.first_day:
            raise ValueError(f"{name}: history reaches into the window")
        for value, part in _by_day(data, day):
            label = (_EPOCH + timedelta(days=value)).isoformat()
            self._write(table, part, partition_dir(self.root, table, label))

    def flush(self, day: int) -> None:
        """Write partition ``day`` of every partitioned table (an empty file if it has no rows)."""
        label = (_EPOCH + timedelta(days=day)).isoformat()
        for table in DEMO_TABLES:
            if not table.partition_column:
                continue
            pending = self.pending[table.name]
            if any(d < day for d in pending):
                raise RuntimeError(f"{table.name}: a partition before {label} was not written")
            parts = pending.pop(day, [])
            data = pa.concat_tables(parts) if parts else arrow_schema(table).empty_table()
            self._write(table, data, partition_dir(self.root, table, label))
        self.next_day = day + 1

    def write_whole(self, name: str, columns: dict[str, Any]) -> None:
        table = TABLES[name]
        self._write(table, self._table(table, columns), table_dir(self.root, table))

    def _write(self, table: Table, data: pa.Table, directory: Path) -> None:
        stamps = [f.name for f in data.schema if pa.types.is_timestamp(f.type)]
        if stamps and data.num_rows > 1:
            data = data.take(pc.sort_indices(data[stamps[0]]))
        directory.mkdir(parents=True, exist_ok=True)
        options = layout.parquet_options(data.schema)
        # The whole lake is built in a private directory and renamed into place when complete,
        # so files need no per-file temporary name here.
        for name, part in layout.files(data, table.bucket_column, self.rows_per_file):
            pq.write_table(part, directory / name, **options)
        self.rows[table.name] += data.num_rows


# --------------------------------------------------------------------------- pools


@dataclass
class _Listings:
    is_studio: np.ndarray
    created: np.ndarray
    deactivated: np.ndarray
    popularity: np.ndarray
    price_cents: np.ndarray
    update_rate: np.ndarray
    capacity: np.ndarray
    city: np.ndarray
    ids: pa.Array
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def active_at(self, ts: int) -> np.ndarray:
        return (self.created <= ts) & (self.deactivated > ts)


def _build_listings(rng: np.random.Generator, cfg: LakeConfig, start: int) -> _Listings:
    n_prof = max(20, round(PROFILES * cfg.scale))
    n_std = max(5, round(STUDIOS * cfg.scale))
    n = n_prof + n_std
    is_studio = np.arange(n) >= n_prof
    # Most listings predate the window (denser recently); some are created during it.
    in_window = rng.random(n) < 0.15
    before = start - (rng.random(n) ** 1.6 * 3 * 365 * DAY).astype(np.int64)
    during = start + (rng.random(n) * cfg.days * DAY).astype(np.int64)
    created = np.where(in_window, during, before)
    gone = rng.random(n) < 0.10
    deactivated = np.where(gone, created + _lognormal(rng, 200 * DAY, 0.8, n), NEVER)
    city = _choice(rng, 1 / np.arange(1, len(CITIES) + 1) ** 0.8, n)
    ids = pc.if_else(
        pa.array(is_studio),
        make_ids("std_", np.arange(n), _salt(cfg.seed, "studio")),
        make_ids("prf_", np.arange(n), _salt(cfg.seed, "profile")),
    )
    return _Listings(
        is_studio=is_studio,
        created=created,
        deactivated=deactivated,
        popularity=rng.lognormal(0, 1.1, n),
        price_cents=np.where(is_studio, 15_000, 9_000) * rng.lognormal(0, 0.45, n),
        update_rate=rng.lognormal(np.log(1 / 25), 0.9, n),
        capacity=np.where(rng.random(n) < 0.2, 0.0, rng.lognormal(np.log(8), 0.6, n)),
        city=city,
        ids=ids,
    )


@dataclass
class _Identities:
    """Everyone who is ever seen, sorted by first_seen, with the state that evolves day by day."""

    first_seen: np.ndarray
    became_user: np.ndarray
    weight_cum: np.ndarray  # cumsum of activity weights, for sampling returning sessions
    latent: np.ndarray  # standard normal; drives propensity and experiment outcomes
    propensity: np.ndarray  # mean-one multiplier of message and checkout rates
    platform: np.ndarray
    is_crawler: np.ndarray
    identity_ids: pa.Array
    user_ids: pa.Array  # null for identities that never become users
    day_bounds: np.ndarray  # identities first seen on window day d: [day_bounds[d], [d + 1])
    consent: np.ndarray  # (flag, identity) bool
    exposed: np.ndarray  # (experiment, identity) bool
    last_touch: np.ndarray
    last_touch_promo: np.ndarray

    def user_at(self, index: np.ndarray, ts: np.ndarray) -> pa.Array:
        """user_id as of ``ts``: null before the identity became a user."""
        anonymous = self.became_user[index] > ts
        return pc.if_else(
            pa.array(anonymous), pa.scalar(None, pa.string()), self.user_ids.take(index)
        )


def _build_identities(
    rng: np.random.Generator, cfg: LakeConfig, start: int, season: np.ndarray, listings: _Listings
) -> _Identities:
    s = cfg.scale
    n_pre = max(50, round(PRE_WINDOW_IDENTITIES * s))
    pre_seen = start - 1 - (rng.random(n_pre) ** 1.4 * 540 * DAY).astype(np.int64)
    new_counts = rng.poisson(NEW_IDENTITIES_PER_DAY * s * season)
    new_day = np.repeat(np.arange(cfg.days), new_counts)
    new_seen = start + new_day * DAY + _time_of_day(rng, len(new_day))
    crawl_counts = rng.poisson(CRAWLER_SESSIONS_PER_DAY * s, cfg.days)
    crawl_day = np.repeat(np.arange(cfg.days), crawl_counts)
    crawl_seen = start + crawl_day * DAY + (rng.random(len(crawl_day)) * DAY).astype(np.int64)
    n_own = len(listings.created)
    own_seen = listings.created - _lognormal(rng, 20 * DAY, 1.0, n_own)

    consumers = np.concatenate([pre_seen, new_seen])
    n_con, n_crawl = len(consumers), len(crawl_seen)
    first_seen = np.concatenate([consumers, crawl_seen, own_seen])
    n = len(first_seen)
    kind = np.repeat([0, 1, 2], [n_con, n_crawl, n_own])  # consumer, crawler, listing owner

    # About a fifth of consumers sign up: a third in their first session, the rest later.
    signs_up = (kind == 0) & (rng.random(n) < USER_SHARE)
    quick = rng.random(n) < 0.35
    delay = np.where(quick, _lognormal(rng, 4 * MINUTE, 0.6, n), _lognormal(rng, 6 * DAY, 1.2, n))
    became = np.where(signs_up, first_seen + delay, NEVER)
    owner_became = own_seen + ((listings.created - own_seen) * rng.uniform(0.2, 0.9, n_own))
    became[kind == 2] = owner_became.astype(np.int64)

    latent = rng.standard_normal(n).astype(np.float32)
    age_days = np.maximum(start - first_seen, 0) / DAY
    weight = rng.lognormal(0, 0.9, n) * np.where(became < NEVER, 2.5, 1.0)
    weight *= 0.3 + 0.7 * np.exp(-age_days / 180)
    weight[kind == 1] = 0  # a crawler identity never comes back (no cookies)
    weight[kind == 2] *= 0.3
    platform = _choice(rng, _HUMAN_PLATFORM_P, n)
    platform[kind == 1] = rng.choice(_CRAWLER_PLATFORMS, n_crawl, p=[0.8, 0.2])

    order = np.argsort(first_seen, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    listings.owner = rank[n_con + n_crawl :]
    first_seen, became, latent = first_seen[order], became[order], latent[order]
    never = became == NEVER
    index = np.arange(n)
    user_ids = make_ids("usr_", index, _salt(cfg.seed, "user"))
    return _Identities(
        first_seen=first_seen,
        became_user=became,
        weight_cum=np.cumsum(weight[order]),
        latent=latent,
        propensity=np.exp(0.9 * latent - 0.405).astype(np.float32),
        platform=platform[order],
        is_crawler=(kind == 1)[order],
        identity_ids=make_ids("idn_", index, _salt(cfg.seed, "identity")),
        user_ids=pc.if_else(pa.array(never), pa.scalar(None, pa.string()), user_ids),
        day_bounds=np.searchsorted(first_seen, start + np.arange(cfg.days + 1) * DAY),
        consent=np.zeros((3, n), dtype=bool),
        exposed=np.zeros((len(EXPERIMENTS), n), dtype=bool),
        last_touch=np.zeros(n, dtype=np.int64),  # 1970: no touch
        last_touch_promo=np.zeros(n, dtype=np.int16),
    )


@dataclass(frozen=True)
class _Promos:
    channel: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray
    intensity: np.ndarray
    ids: pa.Array

    def active(self, d: int) -> np.ndarray:
        return (self.first_day <= d) & (d <= self.last_day)


def _build_promos(rng: np.random.Generator, cfg: LakeConfig) -> _Promos:
    # Two promotions per channel: one always on, one flighted for part of the window.
    channel = np.repeat(np.arange(len(PROMO_CHANNELS)), 2)
    flighted = np.tile([False, True], len(PROMO_CHANNELS))
    first = np.where(flighted, (rng.random(len(channel)) * cfg.days * 0.5).astype(int), 0)
    last = np.where(flighted, first + (cfg.days * rng.uniform(0.3, 0.6, len(channel))), cfg.days)
    names = [f"{PROMO_CHANNELS[c]}_{i % 2 + 1:02d}" for i, c in enumerate(channel)]
    return _Promos(
        channel=channel,
        first_day=first,
        last_day=last.astype(int),
        intensity=rng.lognormal(0, 0.5, len(channel)) * np.array([3, 2, 1, 1.5])[channel],
        ids=_vocab(names),
    )


@dataclass(frozen=True)
class _Landings:
    paths: pa.Array
    is_brand: np.ndarray
    impressions: np.ndarray  # daily impressions at scale 1
    position: np.ndarray
    is_submitted: np.ndarray
    indexed_from: np.ndarray  # window day the page is indexed from (-1: all window)
    indexed_until: np.ndarray  # last window day it is indexed


def _build_landings(rng: np.random.Generator, cfg: LakeConfig) -> _Landings:
    paths = [*BRAND_PAGES, *(f"/{c}/{k}" for c in CITIES for k in CATEGORIES)]
    n = len(paths)
    is_brand = np.arange(n) < len(BRAND_PAGES)
    rank = rng.permutation(n) + 1
    impressions = 60_000 / rank**1.1 * np.where(is_brand, 4, 1)
    submitted = rng.random(n) < 0.92
    indexed = rng.random(n) < np.where(submitted, 0.88, 0.25)
    indexed[is_brand] = True
    submitted[is_brand] = True
    # A few pages drop out of the index during the window, a few get indexed.
    change_day = (rng.random(n) * cfg.days).astype(int)
    flips = rng.random(n) < 0.04
    indexed_from = np.where(indexed, -1, np.where(flips, change_day, cfg.days))
    indexed_until = np.where(indexed & flips & ~is_brand, change_day, cfg.days)
    position = np.where(is_brand, rng.uniform(1.0, 1.4, n), rng.lognormal(np.log(9), 0.6, n))
    return _Landings(
        paths=_vocab(paths),
        is_brand=is_brand,
        impressions=impressions,
        position=position,
        is_submitted=submitted,
        indexed_from=indexed_from,
        indexed_until=indexed_until,
    )


def _calibrated(
    target: float, trials: np.ndarray, prop: np.ndarray, eligible: np.ndarray, cap: float
) -> np.ndarray:
    """Per-session success probabilities, proportional to propensity among the eligible, so the
    expected number of successes is ``target`` (the funnel rate holds whoever is eligible)."""
    weight = float((trials * prop * eligible).sum())
    base = target / weight if weight > 0 else 0.0
    return np.where(eligible, np.minimum(base * prop, cap), 0.0)


class _Blocks:
    """Event rows appended one kind at a time; arrays are concatenated once at the end."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = defaultdict(list)
        self.size = 0

    def add(
        self,
        etype: E,
        sess: np.ndarray,
        pos: np.ndarray | float,
        payload: pa.Array,
        surface: np.ndarray | int | None = None,
        listing: np.ndarray | None = None,
        version: np.ndarray | None = None,
    ) -> slice:
        n = len(sess)
        cols = self.columns
        cols["sess"].append(sess)
        cols["etype"].append(np.full(n, etype, dtype=np.int8))
        cols["pos"].append(np.broadcast_to(np.asarray(pos, dtype=np.float64), (n,)))
        cols["payload"].append(payload)
        cols["surface"].append(
            np.broadcast_to(
                np.asarray(SURFACES.index(_SURFACE_OF[etype]) if surface is None else surface),
                (n,),
            )
        )
        cols["listing"].append(np.full(n, -1) if listing is None else listing)
        cols["version"].append(
            np.full(n, SCHEMA_VERSIONS[etype], dtype=np.int32) if version is None else version
        )
        self.size += n
        return slice(self.size - n, self.size)

    def finish(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: np.concatenate(v) for k, v in self.columns.items() if k != "payload"
        }
        out["payload"] = pa.concat_arrays(self.columns["payload"])
        return out


@dataclass
class _Sessions:
    ident: np.ndarray
    start: np.ndarray
    first: np.ndarray
    entry: np.ndarray  # index into REFERRERS
    promo: np.ndarray  # promo index, -1 if none
    click: np.ndarray  # index into the day's email clicks, -1 if none
    ids: pa.Array


REFERRERS = ("direct", "organic_search", "email", *PROMO_CHANNELS, "crawler")
_DIRECT, _SEO, _EMAIL, _PROMO, _CRAWLER = 0, 1, 2, 3, 3 + len(PROMO_CHANNELS)


@dataclass
class _Clicks:
    ident: np.ndarray
    ts: np.ndarray
    message_ids: pa.Array
    kind: np.ndarray

    def take(self, idx: np.ndarray) -> "_Clicks":
        return _Clicks(self.ident[idx], self.ts[idx], self.message_ids.take(idx), self.kind[idx])

    def split(self, before: int) -> tuple["_Clicks", "_Clicks"]:
        """(clicks before ``before``, the rest)."""
        now = self.ts < before
        return self.take(np.flatnonzero(now)), self.take(np.flatnonzero(~now))


_NO_CLICKS = _Clicks(
    np.zeros(0, np.int64), np.zeros(0, np.int64), pa.array([], pa.string()), np.zeros(0, np.int8)
)


# --------------------------------------------------------------------------- the generator


class _Generator:
    def __init__(self, cfg: LakeConfig, root: Path):
        self.cfg = cfg
        self.start = (cfg.start_date - _EPOCH).days * DAY
        first_day = self.start // DAY
        self.sink = _Sink(root, first_day, first_day + cfg.days - 1, cfg.rows_per_file)
        self.end = self.sink.end
        rng = np.random.default_rng([cfg.seed, 0])
        days = np.arange(cfg.days)
        self.weekday = (first_day + days + 3) % 7  # 1970-01-01 was a Thursday
        trend = 1 + 0.12 * days / max(cfg.days - 1, 1)
        self.season = _WEEKDAY[self.weekday] * trend * rng.lognormal(0, 0.04, cfg.days)
        self.listings = _build_listings(rng, cfg, self.start)
        self.idn = _build_identities(rng, cfg, self.start, self.season, self.listings)
        self.promos = _build_promos(rng, cfg)
        self.landings = _build_landings(rng, cfg)
        self.loss_day, self.lag_day = (cfg.days * 2) // 3, cfg.days // 3
        self.clicks = _NO_CLICKS
        self._salts: dict[str, np.uint64] = {}
        self._consent_history(rng)
        self._referrals(rng)

    def ids(self, prefix: str, d: int, n: int) -> pa.Array:
        """Ids unique per prefix: window day and a per-day sequence, mixed."""
        if prefix not in self._salts:
            self._salts[prefix] = _salt(self.cfg.seed, prefix)
        counters = (np.int64(d) << np.int64(28)) | np.arange(n, dtype=np.int64)
        return make_ids(prefix, counters, self._salts[prefix])

    def run_day(self, d: int) -> None:
        """Generate window day ``d`` and write every partition that is now complete."""
        rng = np.random.default_rng([self.cfg.seed, 1, d])
        self.day0 = day0 = self.start + d * DAY
        self._emails(rng, d, day0)
        sessions = self._sessions(rng, d, day0)
        self._promo_spend(rng, d)
        self._events(rng, d, sessions)
        self._apply_consent()
        self._supply(rng, d, day0)
        self._support(rng, d, day0, sessions)
        self._safety(rng, d, day0)
        self._seo(rng, d)
        self.sink.flush(self.sink.first_day + d)

    # ----------------------------------------------------------------- sessions and events

    def _sessions(self, rng: np.random.Generator, d: int, day0: int) -> _Sessions:
        idn, n_promos = self.idn, len(self.promos.channel)
        lo, hi = idn.day_bounds[d], idn.day_bounds[d + 1]
        new = np.arange(lo, hi)
        n_ret = rng.poisson(RETURNING_SESSIONS_PER_DAY * self.cfg.scale * self.season[d])
        ret = _weighted_pick(rng, idn.weight_cum, lo, n_ret)
        clicks, self.clicks = self.clicks.split(day0 + DAY)
        self.day_clicks = clicks
        ident = np.concatenate([new, ret, clicks.ident])
        start = np.concatenate([idn.first_seen[new], day0 + _time_of_day(rng, len(ret)), clicks.ts])
        first = np.arange(len(ident)) < len(new)
        click = np.concatenate([np.full(len(new) + len(ret), -1), np.arange(len(clicks.ts))])
        order = np.lexsort((ident, start))
        ident, start, first, click = ident[order], start[order], first[order], click[order]
        n = len(ident)

        entry = np.where(click >= 0, _EMAIL, _DIRECT)
        promo = np.full(n, -1)
        u = rng.random(n)
        organic = (click < 0) & ~idn.is_crawler[ident]
        active = np.flatnonzero(self.promos.active(d))
        if len(active):
            paid = np.flatnonzero(organic & (u < PROMO_SESSION_SHARE))
            promo[paid] = active[_choice(rng, self.promos.intensity[active], len(paid))]
            entry[paid] = _PROMO + self.promos.channel[promo[paid]]
        entry[
            organic & (u >= PROMO_SESSION_SHARE) & (u < PROMO_SESSION_SHARE + SEO_SESSION_SHARE)
        ] = _SEO
        entry[idn.is_crawler[ident]] = _CRAWLER
        self.promo_sessions = np.bincount(promo[promo >= 0], minlength=n_promos)
        return _Sessions(ident, start, first, entry, promo, click, self.ids("ses_", d, n))

    def _counts(self, rng: np.random.Generator, ss: _Sessions) -> "_Counts":
        """How many events of each kind every session of the day has: the funnel."""
        idn, n = self.idn, len(ss.ident)
        crawler = idn.is_crawler[ss.ident]
        buyer = (idn.became_user[ss.ident] <= ss.start) & ~crawler  # must be logged in to deal
        prop = idn.propensity[ss.ident]
        page = rng.poisson(np.where(crawler, 3.0, 1.2))
        search = np.where(
            crawler, 1 + rng.poisson(3.0, n), (rng.random(n) < 0.85) * (1 + rng.poisson(1.5, n))
        )
        view = rng.binomial(search, FUNNEL_RATES["view"])
        p_message = _calibrated(FUNNEL_RATES["message"] * view.sum(), view, prop, buyer, 0.9)
        message = rng.binomial(view, p_message)
        p_start = _calibrated(
            FUNNEL_RATES["checkout_start"] * message.sum(), message, prop, buyer, 0.95
        )
        checkout_start = rng.binomial(message, p_start)
        return _Counts(
            crawler=crawler,
            buyer=buyer,
            page=page,
            search=search,
            view=view,
            favorite=rng.binomial(view, 0.06) * ~crawler,
            message=message,
            checkout_start=checkout_start,
            checkout_complete=rng.binomial(checkout_start, FUNNEL_RATES["checkout_complete"]),
            pricing=(page > 0) & ~crawler & (rng.random(n) < 0.15),
        )

    def _events(self, rng: np.random.Generator, d: int, ss: _Sessions) -> None:
        """Session events through bronze, silver and gold, plus what they drive: bookings and
        their after-sale, consent changes, marketing touches and experiment exposures."""
        c = self._counts(rng, ss)
        b = _Blocks()
        self._arrival_events(b, ss)
        consent = self._consent_events(rng, b, ss, c)
        pricing_pos = self._page_events(rng, b, ss, c)
        self._search_events(rng, d, b, c)
        view_surface, booked = self._listing_events(rng, d, b, c)
        n = len(ss.ident)
        triggers = {
            "search": (c.search > 0, np.full(n, 999.5), SURFACES.index("search_results")),
            "view": (c.view > 0, np.full(n, 1049.5), None),
            "pricing": (c.pricing, pricing_pos - 0.5, SURFACES.index("pricing_page")),
        }
        exposures = self._exposure_events(d, b, ss, triggers, view_surface)

        ev = b.finish()
        ts = self._timestamps(rng, ev["sess"], ev["pos"], ss.start)
        self._consent_rows(rng, d, ss, ev, ts, consent)
        touches = self._touches(d, ss, ev, ts, consent)
        self._bookings(rng, d, ss, ev, ts, booked, touches)
        self._exposure_rows(rng, ss, ts, exposures)
        self._pipeline(rng, d, ss, ev, ts)

    def _arrival_events(self, b: _Blocks, ss: _Sessions) -> None:
        platform = self.idn.platform[ss.ident]
        b.add(
            E.APP_START,
            np.arange(len(ss.ident)),
            0.0,
            _json(
                ("platform", _take(_vocab(PLATFORMS), platform), True),
                ("app_version", _take(APP_VERSIONS, platform), True),
                ("referrer", _take(_vocab(REFERRERS), ss.entry), True),
            ),
        )
        clicked = np.flatnonzero(ss.click >= 0)
        b.add(
            E.EMAIL_CLICK,
            clicked,
            1.0,
            _json(
                ("message_id", self.day_clicks.message_ids.take(ss.click[clicked]), True),
                ("kind", _take(EMAIL_KINDS, self.day_clicks.kind[ss.click[clicked]]), True),
            ),
        )

    def _page_events(
        self, rng: np.random.Generator, b: _Blocks, ss: _Sessions, c: "_Counts"
    ) -> np.ndarray:
        """Page views (rarely with leaked PII); returns where each session saw the pricing page."""
        sess, k = _expand(c.page)
        pos = rng.uniform(5, 20_000, len(sess))
        pricing = c.pricing[sess] & (k == 0)
        paths = self.landings.paths
        path = pc.if_else(
            pa.array(pricing),
            pa.scalar("/pricing"),
            paths.take(rng.integers(0, len(paths), len(sess))),
        )
        referrer = _take(_vocab(REFERRERS), ss.entry[sess])
        payload = _json(("path", path, True), ("referrer", referrer, True))
        leak = rng.random(len(sess)) < PII_LEAK_SHARE
        if leak.any():  # a client bug sends PII the allowlist should have stopped
            rows = np.flatnonzero(leak)
            email = pc.binary_join_element_wise("guest", _num(rows), "@example.com", "")
            leaked = _json(
                ("path", path.take(rows), True),
                ("referrer", referrer.take(rows), True),
                ("email", email, True),
            )
            payload = pc.replace_with_mask(payload, pa.array(leak), leaked)
        surface = np.where(pricing, SURFACES.index("pricing_page"), SURFACES.index("landing"))
        b.add(E.PAGE_VIEW, sess, pos, payload, surface=surface)
        pricing_pos = np.zeros(len(ss.ident))
        pricing_pos[sess[pricing]] = pos[pricing]
        return pricing_pos

    def _search_events(self, rng: np.random.Generator, d: int, b: _Blocks, c: "_Counts") -> None:
        sess, k = _expand(c.search)
        n = len(sess)
        # Search payload v3 adds "filters"; app updates roll it out over a week.
        v3 = rng.random(n) < np.clip((d - int(self.cfg.days * SEARCH_V3_FROM) + 1) / 7, 0, 1)
        city = self.listings.city[rng.integers(0, len(self.listings.city), n)]
        fields = [
            ("query_class", _take(QUERY_CLASSES, rng.random(n) < 0.1), True),
            ("city", _take(_vocab(CITIES), city), True),
            ("results_count", _num(rng.poisson(40, n)), False),
        ]
        payload = pc.if_else(
            pa.array(v3),
            _json(*fields, ("filters", _num(rng.poisson(1.0, n)), False)),
            _json(*fields),
        )
        b.add(E.SEARCH, sess, 1000.0 + 100 * k, payload, version=np.where(v3, 3, 2))

    def _listing_events(
        self, rng: np.random.Generator, d: int, b: _Blocks, c: "_Counts"
    ) -> tuple[np.ndarray, "_Booked"]:
        """Listing views, favorites, messages and checkouts. The k-th message, checkout start
        and completion of a session are about the listing of its k-th view."""
        lst = self.listings
        vs, vk = _expand(c.view)
        listing = self._pick_listings(rng, self.start + d * DAY, len(vs))
        studio = lst.is_studio[listing]
        ids = lst.ids.take(listing)
        view_first = np.cumsum(c.view) - c.view
        payload = pc.if_else(
            pa.array(studio),
            _json(("studio_id", ids, True), ("position", _num(vk + 1), False)),
            _json(("profile_id", ids, True), ("position", _num(vk + 1), False)),
        )
        for kind, etype in ((False, E.PROFILE_VIEW), (True, E.STUDIO_VIEW)):
            rows = np.flatnonzero(studio == kind)
            pos = 1050.0 + 100 * vk[rows]
            b.add(etype, vs[rows], pos, payload.take(rows), listing=listing[rows])

        fs, fk = _expand(c.favorite)
        fl = listing[view_first[fs] + fk]
        page = np.where(
            lst.is_studio[fl], SURFACES.index("studio_page"), SURFACES.index("profile_page")
        )
        favorite = _json(
            ("listing_id", lst.ids.take(fl), True),
            ("listing_kind", _take(LISTING_KINDS, lst.is_studio[fl]), True),
        )
        b.add(E.FAVORITE_ADD, fs, 1060.0 + 100 * fk, favorite, surface=page, listing=fl)

        ms, mk = _expand(c.message)
        ml = listing[view_first[ms] + mk]
        message = _json(
            ("listing_id", lst.ids.take(ml), True),
            ("thread_id", self.ids("thr_", d, len(ms)), True),
            ("length", _num(rng.poisson(180, len(ms))), False),
        )
        b.add(E.MESSAGE_SENT, ms, 60_000.0 + mk, message, listing=ml)

        cs, ck = _expand(c.checkout_start)
        cl = listing[view_first[cs] + ck]
        amount = (
            (lst.price_cents[cl] * rng.lognormal(0, 0.3, len(cs)) / 100).round() * 100
        ).astype(np.int64)
        start = _json(
            ("listing_id", lst.ids.take(cl), True),
            ("amount_cents", _num(amount), False),
            ("currency", "EUR", True),
        )
        b.add(E.CHECKOUT_START, cs, 70_000.0 + ck, start, listing=cl)

        bs, bk = _expand(c.checkout_complete)
        of_start = (np.cumsum(c.checkout_start) - c.checkout_start)[bs] + bk
        bl, b_amount = cl[of_start], amount[of_start]
        booking_ids = self.ids("bkg_", d, len(bs))
        complete = _json(
            ("booking_id", booking_ids, True),
            ("listing_id", lst.ids.take(bl), True),
            ("amount_cents", _num(b_amount), False),
            ("currency", "EUR", True),
        )
        rows = b.add(E.CHECKOUT_COMPLETE, bs, 80_000.0 + bk, complete, listing=bl)

        first_studio = np.zeros(len(c.view), dtype=bool)
        first_studio[vs[vk == 0]] = studio[vk == 0]
        view_surface = np.where(
            first_studio, SURFACES.index("studio_page"), SURFACES.index("profile_page")
        )
        return view_surface, _Booked(rows, booking_ids, b_amount)

    def _pick_listings(self, rng: np.random.Generator, ts: int, n: int) -> np.ndarray:
        lst = self.listings
        cum = np.cumsum(lst.popularity * lst.active_at(ts))
        return _weighted_pick(rng, cum, len(cum), n)

    def _timestamps(
        self, rng: np.random.Generator, sess: np.ndarray, pos: np.ndarray, start: np.ndarray
    ) -> np.ndarray:
        """Client times: events in position order within a session, lognormal gaps apart."""
        order = np.lexsort((pos, sess))
        in_order = sess[order]
        head = np.ones(len(order), dtype=bool)
        head[1:] = in_order[1:] != in_order[:-1]
        gaps = _lognormal(rng, 20 * SEC, 1.0, len(order)) + 1
        gaps[head] = 0
        cum = np.cumsum(gaps)
        ts = np.empty(len(order), dtype=np.int64)
        ts[order] = start[in_order] + cum - np.maximum.accumulate(np.where(head, cum, 0))
        return ts

    def _consent_events(
        self, rng: np.random.Generator, b: _Blocks, ss: _Sessions, c: "_Counts"
    ) -> "_Consent":
        """The banner on a first visit (three answers) and now and then a change in settings."""
        n = len(ss.ident)
        banner = ss.first & ~c.crawler & (rng.random(n) < 0.75)
        settings = np.flatnonzero(c.buyer & ~banner & (rng.random(n) < 0.004))
        b_sess = np.repeat(np.flatnonzero(banner), 3)
        b_flag = np.tile(np.arange(3), int(banner.sum()))
        b_value = rng.random(len(b_sess)) < _CONSENT_YES[b_flag]
        s_flag = rng.integers(0, 3, len(settings))
        # Today's digest was sent on the consent held at sending: no revocation before it.
        s_flag[(s_flag == 0) & (ss.start[settings] < self._digest_sent(ss.ident[settings]))] = 1
        s_value = ~self.idn.consent[s_flag, ss.ident[settings]]
        flag = np.concatenate([b_flag, s_flag])
        value = np.concatenate([b_value, s_value])
        source = np.repeat([0, 1], [len(b_sess), len(settings)])
        rows = b.add(
            E.CONSENT_CHANGE,
            np.concatenate([b_sess, settings]),
            np.concatenate([2.0 + b_flag, np.full(len(settings), 50_000.0)]),
            _json(
                ("flag", _take(_vocab(CONSENT_FLAGS), flag), True),
                ("value", _take(BOOLS, value), False),
                ("source", _take(_vocab(CONSENT_SOURCES), source), True),
            ),
        )
        return _Consent(rows, flag, value, source)

    def _digest_sent(self, ident: np.ndarray) -> np.ndarray:
        """When today's digest went to each identity (NEVER if none)."""
        recipients, sent = self.digests
        out = np.full(len(ident), NEVER)
        if len(recipients):
            pos = np.minimum(np.searchsorted(recipients, ident), len(recipients) - 1)
            found = recipients[pos] == ident
            out[found] = sent[pos[found]]
        return out

    def _exposure_events(
        self,
        d: int,
        b: _Blocks,
        ss: _Sessions,
        triggers: dict[str, tuple[np.ndarray, np.ndarray, int | None]],
        view_surface: np.ndarray,
    ) -> list[tuple[int, slice, np.ndarray, np.ndarray, np.ndarray]]:
        """First exposures: the first triggering session of each not yet exposed identity."""
        idn, out = self.idn, []
        for e, exp in enumerate(EXPERIMENTS):
            if d < int(self.cfg.days * exp.start_share):
                continue
            has, pos, surface = triggers[exp.trigger]
            candidates = np.flatnonzero(has & ~idn.exposed[e, ss.ident])
            _, first = np.unique(ss.ident[candidates], return_index=True)
            sess = candidates[np.sort(first)]
            ident = ss.ident[sess]
            idn.exposed[e, ident] = True
            variant = np.where(idn.is_crawler[ident], 0, assign_variant(self.cfg.seed, exp, ident))
            surf = view_surface[sess] if surface is None else np.full(len(sess), surface)
            payload = _json(
                ("experiment_key", exp.key, True),
                ("variant", _take(_vocab(exp.variants), variant), True),
            )
            rows = b.add(E.EXPERIMENT_EXPOSURE, sess, pos[sess], payload, surface=surf)
            out.append((e, rows, sess, variant, surf))
        return out

    def _exposure_rows(
        self,
        rng: np.random.Generator,
        ss: _Sessions,
        ts: np.ndarray,
        exposures: list[tuple[int, slice, np.ndarray, np.ndarray, np.ndarray]],
    ) -> None:
        idn = self.idn
        for e, rows, sess, variant, surface in exposures:
            exp, ident, at, m = EXPERIMENTS[e], ss.ident[sess], ts[rows], len(sess)
            lift = np.array([exp.lift.get(v, 0.0) for v in exp.variants])[variant]
            pre, post, converted = exposure_outcomes(rng, idn.latent[ident], lift)
            bot = idn.is_crawler[ident]
            self.sink.add(
                "fact_experiment_exposures",
                at // DAY,
                {
                    "experiment_key": _const(exp.key, m),
                    "variant": _take(_vocab(exp.variants), variant),
                    "identity_id": idn.identity_ids.take(ident),
                    "user_id": idn.user_at(ident, at),
                    "exposure_ts": at,
                    "surface": _take(_vocab(SURFACES), surface),
                    "user_agent": _take(_vocab(USER_AGENTS), idn.platform[ident]),
                    "pre_value": np.where(bot, 0.0, pre.round(2)),
                    "outcome_value": np.where(bot, 0.0, post.round(2)),
                    "converted": converted & ~bot,
                },
            )

    def _consent_rows(
        self,
        rng: np.random.Generator,
        d: int,
        ss: _Sessions,
        ev: dict[str, Any],
        ts: np.ndarray,
        consent: "_Consent",
    ) -> None:
        """consent_changes: the banner and settings events plus changes made through the API."""
        idn, day0 = self.idn, self.start + d * DAY
        users = np.flatnonzero(idn.became_user <= day0)
        n_api = rng.poisson(3 * self.cfg.scale) if len(users) else 0
        api_ident = users[rng.integers(0, max(len(users), 1), n_api)]
        api_ts = day0 + (rng.random(n_api) * DAY).astype(np.int64)
        api_flag = rng.integers(0, 3, n_api)
        api_flag[(api_flag == 0) & (api_ts < self._digest_sent(api_ident))] = 1
        ident = np.concatenate([ss.ident[ev["sess"][consent.rows]], api_ident])
        at = np.concatenate([ts[consent.rows], api_ts])
        flag = np.concatenate([consent.flag, api_flag])
        value = np.concatenate([consent.value, rng.random(n_api) < 0.3])
        source = np.concatenate([consent.source, np.full(n_api, 2)])
        self.sink.add(
            "consent_changes",
            at // DAY,
            {
                "change_id": self.ids("cns_", d, len(at)),
                "identity_id": idn.identity_ids.take(ident),
                "user_id": idn.user_at(ident, at),
                "flag": _take(_vocab(CONSENT_FLAGS), flag),
                "value": value,
                "source": _take(_vocab(CONSENT_SOURCES), source),
                "changed_ts": at,
            },
        )
        self.changes = (ident, at, flag, value)

    def _apply_consent(self) -> None:
        """End of day: the last change of each identity and flag is the new state."""
        ident, at, flag, value = self.changes
        order = np.lexsort((at, ident, flag))[::-1]
        key = flag[order].astype(np.int64) * len(self.idn.first_seen) + ident[order]
        _, last = np.unique(key, return_index=True)
        rows = order[last]
        self.idn.consent[flag[rows], ident[rows]] = value[rows]

    def _marketing_consent_at(self, ident: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Marketing consent as of ``at`` (today): the latest change so far, else the day's
        starting state."""
        c_ident, c_at, c_flag, c_value = self.changes
        m = c_flag == 0
        found, value = _latest(c_ident[m], c_at[m], c_value[m], ident, at, self.day0)
        return np.where(found, value, self.idn.consent[0, ident])

    def _touches(
        self, d: int, ss: _Sessions, ev: dict[str, Any], ts: np.ndarray, consent: "_Consent"
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Paid visits; the pixel fires only with marketing consent (after the banner, if any)."""
        idn = self.idn
        paid = np.flatnonzero(ss.promo >= 0)
        at = ss.start[paid].copy()
        banner = consent.rows.start + np.flatnonzero((consent.source == 0) & (consent.flag == 0))
        answered = np.full(len(ss.ident), NEVER)
        answered[ev["sess"][banner]] = ts[banner]
        at = np.where(answered[paid] < NEVER, answered[paid], at)
        keep = self._marketing_consent_at(ss.ident[paid], at)
        paid, at = paid[keep], at[keep]
        ident, promo = ss.ident[paid], ss.promo[paid]
        self.sink.add(
            "fact_attribution_touches",
            at // DAY,
            {
                "touch_id": self.ids("tch_", d, len(paid)),
                "identity_id": idn.identity_ids.take(ident),
                "user_id": idn.user_at(ident, at),
                "promo_id": self.promos.ids.take(promo),
                "channel": _take(_vocab(PROMO_CHANNELS), self.promos.channel[promo]),
                "touch_ts": at,
            },
        )
        return ident, at, promo

    def _bookings(
        self,
        rng: np.random.Generator,
        d: int,
        ss: _Sessions,
        ev: dict[str, Any],
        ts: np.ndarray,
        booked: "_Booked",
        touches: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> None:
        """fact_bookings from checkout_complete events, the fin_* after-sale tables consistent
        with its flags, and last-touch attribution."""
        idn, lst, end = self.idn, self.listings, self.end
        rows, booking_ids, amount = booked.rows, booked.ids, booked.amount
        ident, at, listing = ss.ident[ev["sess"][rows]], ts[rows], ev["listing"][rows]
        m = len(at)
        user = idn.user_ids.take(ident)  # only users reach checkout

        refund_at = at + _lognormal(rng, 3 * DAY, 1.0, m)
        refunded = (rng.random(m) < 0.06) & (refund_at <= end)
        dispute_at = at + _lognormal(rng, 10 * DAY, 0.6, m)
        disputed = (rng.random(m) < 0.015) & (dispute_at <= end)
        chargeback_at = at + _lognormal(rng, 25 * DAY, 0.5, m)
        charged_back = (rng.random(m) < 0.006) & (chargeback_at <= end)
        cb_resolved = chargeback_at + _lognormal(rng, 30 * DAY, 0.4, m)
        cb_outcome = np.where(cb_resolved <= end, (rng.random(m) < 0.55).astype(int), 2)

        self.sink.add(
            "fact_bookings",
            at // DAY,
            {
                "booking_id": booking_ids,
                "user_id": user,
                "identity_id": idn.identity_ids.take(ident),
                "profile_id": lst.ids.take(listing),
                "listing_kind": _take(LISTING_KINDS, lst.is_studio[listing]),
                "booked_ts": at,
                "amount_cents": amount,
                "currency": _const("EUR", m),
                "is_refunded": refunded,
                "is_disputed": disputed,
                "has_chargeback": charged_back,
                "chargeback_outcome": _take(OUTCOMES, cb_outcome, null=~charged_back),
            },
        )
        r = np.flatnonzero(refunded)
        partial = rng.random(len(r)) < 0.3
        refund_amount = np.where(
            partial, amount[r] * rng.uniform(0.3, 0.8, len(r)) // 100 * 100, amount[r]
        )
        self.sink.add(
            "fin_refunds",
            refund_at[r] // DAY,
            {
                "refund_id": self.ids("rfd_", d, len(r)),
                "booking_id": booking_ids.take(r),
                "user_id": user.take(r),
                "amount_cents": refund_amount.astype(np.int64),
                "reason": _take(_vocab(REFUND_REASONS), _choice(rng, [4, 2, 1.5, 1, 1.5], len(r))),
                "requested_ts": refund_at[r],
                "refunded_ts": refund_at[r] + _lognormal(rng, 20 * HOUR, 0.8, len(r)),
            },
        )
        q = np.flatnonzero(disputed)
        closed = dispute_at[q] + _lognormal(rng, 12 * DAY, 0.5, len(q))
        self.sink.add(
            "fin_disputes",
            dispute_at[q] // DAY,
            {
                "dispute_id": self.ids("dsp_", d, len(q)),
                "booking_id": booking_ids.take(q),
                "user_id": user.take(q),
                "amount_cents": amount[q],
                "opened_ts": dispute_at[q],
                "closed_ts": closed,
                "outcome": _take(OUTCOMES, np.where(closed <= end, rng.random(len(q)) < 0.45, 2)),
            },
        )
        c = np.flatnonzero(charged_back)
        self.sink.add(
            "fin_chargebacks",
            chargeback_at[c] // DAY,
            {
                "chargeback_id": self.ids("chb_", d, len(c)),
                "booking_id": booking_ids.take(c),
                "user_id": user.take(c),
                "amount_cents": amount[c],
                "received_ts": chargeback_at[c],
                "resolved_ts": cb_resolved[c],
                "outcome": _take(OUTCOMES, cb_outcome[c]),
                "card_country": _take(
                    _vocab(CARD_COUNTRIES), _choice(rng, [60, 10, 8, 7, 5, 5, 5], len(c))
                ),
            },
        )
        self._attribute(d, ident, at, booking_ids, user, amount, touches)

    def _attribute(
        self,
        d: int,
        ident: np.ndarray,
        at: np.ndarray,
        booking_ids: pa.Array,
        user: pa.Array,
        amount: np.ndarray,
        touches: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> None:
        """Last paid touch within 30 days before the booking gets the credit."""
        idn = self.idn
        t_ident, t_at, t_promo = touches
        found, touch = _latest(t_ident, t_at, np.arange(len(t_at)), ident, at, self.day0)
        touched_at = np.where(found, t_at[touch] if len(t_at) else 0, idn.last_touch[ident])
        promo = np.where(found, t_promo[touch] if len(t_at) else 0, idn.last_touch_promo[ident])
        hit = np.flatnonzero(at - touched_at <= 30 * DAY)
        self.sink.add(
            "fact_attribution_conversions",
            at[hit] // DAY,
            {
                "booking_id": booking_ids.take(hit),
                "identity_id": idn.identity_ids.take(ident[hit]),
                "user_id": user.take(hit),
                "promo_id": self.promos.ids.take(promo[hit]),
                "channel": _take(_vocab(PROMO_CHANNELS), self.promos.channel[promo[hit]]),
                "model": _const("last_touch", len(hit)),
                "revenue_cents": amount[hit],
                "converted_ts": at[hit],
            },
        )
        # Remember each identity's latest paid touch for the days to come.
        order = np.lexsort((t_at, t_ident))
        last = (
            order[np.r_[t_ident[order][1:] != t_ident[order][:-1], True]] if len(order) else order
        )
        idn.last_touch[t_ident[last]] = t_at[last]
        idn.last_touch_promo[t_ident[last]] = t_promo[last]

    def _pipeline(
        self, rng: np.random.Generator, d: int, ss: _Sessions, ev: dict[str, Any], ts: np.ndarray
    ) -> None:
        """Bronze (with late, duplicated and dead-lettered events), silver (deduplicated, minus
        lost events) and the gold funnel."""
        idn, lst, n = self.idn, self.listings, len(ts)
        etype, sess = ev["etype"], ev["sess"]
        ident = ss.ident[sess]
        late = (idn.platform[ss.ident] < _APP_PLATFORMS) & (
            rng.random(len(ss.ident)) < LATE_SESSION_SHARE
        )
        lag = np.where(late, _lognormal(rng, 1.5 * DAY, 0.6, len(late)), 0)
        ingest = ts + lag[sess] + _lognormal(rng, 1.2 * SEC, 1.0, n) + 1
        dead = np.isin(etype, (E.PAGE_VIEW, E.FAVORITE_ADD)) & (rng.random(n) < DEAD_LETTER_SHARE)
        dup = ~dead & (rng.random(n) < DUPLICATE_SHARE)
        loss = INCIDENT_LOSS if d == self.loss_day else BASE_LOSS
        lost = ~dead & ~dup & (rng.random(n) < loss)
        late_batch = np.where(rng.random(n) < 0.003, rng.uniform(20, 90, n) * MINUTE, 0)
        silver_at = ingest + _lognormal(rng, 40 * SEC, 0.85, n) + late_batch.astype(np.int64)
        gold_lag = _lognormal(rng, 6.5 * MINUTE, 0.7, n) * (4 if d == self.lag_day else 1)
        gold_at = silver_at + gold_lag

        event_id = self.ids("evt_", d, n)
        identity, user = idn.identity_ids.take(ident), idn.user_at(ident, ts)
        session = ss.ids.take(sess)
        agent = _take(_vocab(USER_AGENTS), idn.platform[ident])
        name = _take(_vocab(EVENT_NAMES), etype)

        kept, copies = np.flatnonzero(~dead), np.flatnonzero(dup)
        raw = np.concatenate([kept, copies])
        retry = ingest[copies] + _lognormal(rng, 20 * SEC, 1.5, len(copies))
        raw_ingest = np.concatenate([ingest[kept], retry])
        self.sink.add(
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
        silver = np.flatnonzero(~dead & ~lost & (silver_at <= self.end))
        self.sink.add(
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
                "surface": _take(_vocab(SURFACES), ev["surface"][silver]),
                "profile_id": pc.if_else(pa.array(studio[silver]), no_id, listing_id.take(silver)),
                "studio_id": pc.if_else(pa.array(studio[silver]), listing_id.take(silver), no_id),
                "user_agent": agent.take(silver),
            },
        )
        step = _STEP_CODES[etype]
        gold = silver[(step[silver] >= 0) & (gold_at[silver] <= self.end)]
        self.sink.add(
            "fact_funnel_events",
            ts[gold] // DAY,
            {
                "event_id": event_id.take(gold),
                "identity_id": identity.take(gold),
                "user_id": user.take(gold),
                "session_id": session.take(gold),
                "step": _take(_vocab(FUNNEL_STEPS), step[gold]),
                "profile_id": listing_id.take(gold),
                "listing_kind": _take(LISTING_KINDS, studio[gold], null=~has_listing[gold]),
                "event_ts": ts[gold],
                "silver_processed_ts": silver_at[gold],
                "gold_processed_ts": gold_at[gold],
            },
        )
        letters = np.flatnonzero(dead)
        self._dead_letters(rng, d, letters, event_id, name, identity, user, ingest, ev, etype)

    def _dead_letters(
        self,
        rng: np.random.Generator,
        d: int,
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
        kind = _choice(rng, [0.40, 0.20, 0.10, 0.15, 0.15], m)
        pii_key = rng.integers(0, len(PII_KEYS), m)
        reason = np.select(
            [kind == 0, kind == 1, kind == 2, kind == 3],
            [np.where(is_page, 0, 1), 2, 3, 4 + pii_key],
            default=4 + len(PII_KEYS),
        )
        event_name = pc.if_else(
            pa.array(kind == 1), _take(MISTYPED_NAMES, ~is_page), name.take(rows)
        )
        missing = _take(_vocab(['{"referrer":"direct"}', '{"listing_kind":"profile"}']), ~is_page)
        too_large = _const('{"path":"/berlin/photographers","blob":"' + "A" * 982, m)
        with_pii = pc.binary_join_element_wise(
            '{"',
            _take(_vocab(PII_KEYS), pii_key),
            '":"',
            _take(_vocab(PII_VALUES), pii_key),
            '",',
            pc.utf8_slice_codeunits(payload, 1),
            "",
        )
        truncated = pc.utf8_slice_codeunits(payload, 0, -7)
        # Unknown names (kind 1) arrive with an intact payload; the others as shown.
        for k, received in ((0, missing), (2, too_large), (3, with_pii), (4, truncated)):
            mask = pa.array(kind == k)
            payload = pc.replace_with_mask(payload, mask, received.filter(mask))
        self.sink.add(
            "dead_letter_events",
            ingest[rows] // DAY,
            {
                "event_id": event_id.take(rows),
                "event_name": event_name,
                "identity_id": identity.take(rows),
                "user_id": user.take(rows),
                "reason": _take(_vocab(DEAD_LETTER_REASONS), reason),
                "received_ts": ingest[rows],
                "payload": payload,
            },
        )

    # ----------------------------------------------------------------- marketing

    def _emails(self, rng: np.random.Generator, d: int, day0: int) -> None:
        """Monday digests to users with marketing consent; alerts (service mail) any day. Clicks
        start sessions on the day they happen."""
        idn = self.idn
        users = np.flatnonzero(idn.became_user <= day0)
        digest = users[idn.consent[0, users]] if self.weekday[d] == 0 else users[:0]
        alert = users[rng.integers(0, max(len(users), 1), rng.poisson(0.015 * len(users)))]
        ident = np.concatenate([digest, alert])
        kind = np.repeat(np.array([0, 1], dtype=np.int8), [len(digest), len(alert)])
        sent = np.concatenate(
            [
                day0 + 6 * HOUR + (rng.random(len(digest)) * 90 * MINUTE).astype(np.int64),
                day0 + _time_of_day(rng, len(alert)),
            ]
        )
        m = len(ident)
        opened = np.where(
            rng.random(m) < np.where(kind == 0, 0.24, 0.38),
            sent + _lognormal(rng, 2 * HOUR, 1.2, m),
            NEVER,
        )
        clicked = np.where(
            (opened < NEVER) & (rng.random(m) < np.where(kind == 0, 0.12, 0.2)),
            opened + _lognormal(rng, 40 * SEC, 1.0, m),
            NEVER,
        )
        message_ids = self.ids("eml_", d, m)
        self.sink.add(
            "fact_messages_sent",
            sent // DAY,
            {
                "message_id": message_ids,
                "identity_id": idn.identity_ids.take(ident),
                "user_id": idn.user_ids.take(ident),
                "kind": _take(EMAIL_KINDS, kind),
                "sent_ts": sent,
                "opened_ts": opened,
                "clicked_ts": clicked,
            },
        )
        c = np.flatnonzero(clicked <= self.end)
        new = _Clicks(ident[c], clicked[c], message_ids.take(c), kind[c])
        self.clicks = _Clicks(
            np.concatenate([self.clicks.ident, new.ident]),
            np.concatenate([self.clicks.ts, new.ts]),
            pa.concat_arrays([self.clicks.message_ids, new.message_ids]),
            np.concatenate([self.clicks.kind, new.kind]),
        )
        self.digests = (digest, sent[: len(digest)])  # recipients in ascending order

    def _promo_spend(self, rng: np.random.Generator, d: int) -> None:
        """Spend follows the paid visits bought (cost per click by channel, with noise)."""
        active = np.flatnonzero(self.promos.active(d))
        channel = self.promos.channel[active]
        spend = (
            self.promo_sessions[active] * _CPC_CENTS[channel] * rng.lognormal(0, 0.1, len(active))
        )
        self.sink.add(
            "fact_promo_spend",
            np.full(len(active), self.sink.first_day + d),
            {
                "promo_id": self.promos.ids.take(active),
                "channel": _take(_vocab(PROMO_CHANNELS), channel),
                "spend_cents": spend.round().astype(np.int64),
            },
        )

    def _consent_history(self, rng: np.random.Generator) -> None:
        """Banner answers of identities first seen before the window, so that consent_changes
        is the whole log: any identity's consent at any time is its latest row (else no)."""
        idn = self.idn
        before = np.flatnonzero(idn.first_seen < self.start - 10 * SEC)  # answers before too
        answered = before[rng.random(len(before)) < 0.75]
        flag = np.tile(np.arange(3), len(answered))
        ident = np.repeat(answered, 3)
        value = rng.random(len(ident)) < _CONSENT_YES[flag]
        at = idn.first_seen[ident] + (2 + flag) * SEC
        idn.consent[flag, ident] = value
        self.sink.write_history(
            "consent_changes",
            at // DAY,
            {
                # Counters above any in-window day's, so ids never collide.
                "change_id": make_ids(
                    "cns_", (1 << 47) + np.arange(len(at)), _salt(self.cfg.seed, "cns_")
                ),
                "identity_id": idn.identity_ids.take(ident),
                "user_id": idn.user_at(ident, at),
                "flag": _take(_vocab(CONSENT_FLAGS), flag),
                "value": value,
                "source": _const("banner", len(at)),
                "changed_ts": at,
            },
        )

    def _referrals(self, rng: np.random.Generator) -> None:
        """Invitations used by identities first seen in the window; most who sign up qualify
        later. Written up front: every row's partition lies in the window."""
        idn = self.idn
        seen = np.arange(idn.day_bounds[0], idn.day_bounds[-1])
        seen = seen[~idn.is_crawler[seen]]
        signs_up = idn.became_user[seen] < NEVER
        referee = seen[rng.random(len(seen)) < np.where(signs_up, 0.15, 0.04)]
        invited = idn.first_seen[referee] - _lognormal(rng, DAY, 1.0, len(referee))
        users = np.flatnonzero(idn.became_user < NEVER)
        users = users[np.argsort(idn.became_user[users], kind="stable")]
        eligible = np.searchsorted(idn.became_user[users], invited, side="right")
        keep = (invited >= self.start) & (eligible > 0)
        referee, invited, eligible = referee[keep], invited[keep], eligible[keep]
        m = len(referee)
        referrer = users[(rng.random(m) * eligible).astype(np.int64)]
        signed = idn.became_user[referee]
        qualifies = (signed < NEVER) & (rng.random(m) < 0.4)
        qualified = np.where(qualifies, signed + _lognormal(rng, 9 * DAY, 0.8, m), NEVER)
        self.sink.add(
            "fact_referrals",
            invited // DAY,
            {
                "referral_id": make_ids("ref_", np.arange(m), _salt(self.cfg.seed, "ref_")),
                "referrer_user_id": idn.user_ids.take(referrer),
                "referee_identity_id": idn.identity_ids.take(referee),
                "referee_user_id": idn.user_at(referee, self.end),
                "invited_ts": invited,
                "signed_up_ts": signed,
                "qualified_ts": qualified,
            },
        )

    # ----------------------------------------------------------------- supply, support, safety

    def _supply(self, rng: np.random.Generator, d: int, day0: int) -> None:
        lst, idn = self.listings, self.idn
        active = np.flatnonzero(lst.active_at(day0))
        kinds = _take(LISTING_KINDS, lst.is_studio)

        edited = active[rng.random(len(active)) < lst.update_rate[active]]
        at = day0 + _time_of_day(rng, len(edited))
        self.sink.add(
            "fact_listing_updates",
            at // DAY,
            {
                "listing_id": lst.ids.take(edited),
                "listing_kind": kinds.take(edited),
                "updated_ts": at,
                "update_kind": _take(
                    _vocab(UPDATE_KINDS), _choice(rng, [30, 20, 25, 15, 10], len(edited))
                ),
            },
        )
        capacity = lst.capacity[active] * rng.uniform(0.4, 1.3, len(active))
        self.sink.add(
            "fact_availability_snapshots",
            np.full(len(active), day0 // DAY),
            {
                "listing_id": lst.ids.take(active),
                "listing_kind": kinds.take(active),
                "open_slots_next_14d": rng.poisson(capacity).astype(np.int32),
            },
        )
        # Owners verify their documents when they create a listing, and now and then again.
        new = np.flatnonzero((lst.created >= day0) & (lst.created < day0 + DAY))
        again = active[rng.random(len(active)) < 0.001]
        listing = np.concatenate([new, again])
        submitted = np.concatenate(
            [
                lst.created[new] + _lognormal(rng, HOUR, 1.0, len(new)),
                day0 + _time_of_day(rng, len(again)),
            ]
        )
        m = len(listing)
        decided = submitted + _lognormal(rng, 6 * HOUR, 1.1, m)
        status = np.where(decided <= self.end, rng.random(m) < 0.13, 2)
        self.sink.add(
            "fact_doc_verifications",
            submitted // DAY,
            {
                "verification_id": self.ids("ver_", d, m),
                "user_id": idn.user_ids.take(lst.owner[listing]),
                "listing_id": lst.ids.take(listing),
                "submitted_ts": submitted,
                "verified_ts": decided,
                "status": _take(_vocab(("verified", "rejected", "pending")), status),
            },
        )

    def _support(self, rng: np.random.Generator, d: int, day0: int, ss: _Sessions) -> None:
        """Tickets opened during sessions; agents answer slower at weekends."""
        idn = self.idn
        human = np.flatnonzero(~idn.is_crawler[ss.ident])
        m = rng.poisson(TICKETS_PER_SESSION * len(human)) if len(human) else 0
        picked = human[rng.integers(0, max(len(human), 1), m)]
        ident = ss.ident[picked]
        created = ss.start[picked] + _lognormal(rng, 10 * MINUTE, 0.8, m)
        category = _choice(rng, [22, 20, 18, 8, 4, 28], m)  # TICKET_CATEGORIES
        safety = category == TICKET_CATEGORIES.index("safety")
        priority = np.where(safety, 2 + (rng.random(m) < 0.4), _choice(rng, [25, 55, 17, 3], m))
        simple = np.isin(category, [TICKET_CATEGORIES.index(c) for c in ("account", "other")])
        auto = simple & (rng.random(m) < 0.3)
        slow = _URGENCY[priority] * (1.6 if self.weekday[d] >= 5 else 1.0)
        wait = np.where(
            auto,
            _lognormal(rng, 20 * SEC, 0.5, m),
            (_lognormal(rng, 90 * MINUTE, 1.1, m) * slow).astype(np.int64),
        )
        responded = created + wait
        stuck = ~auto & (rng.random(m) < 0.03)
        resolved = np.where(
            auto, responded, np.where(stuck, NEVER, responded + _lognormal(rng, 18 * HOUR, 1.2, m))
        )
        self.sink.add(
            "support_tickets",
            created // DAY,
            {
                "ticket_id": self.ids("tkt_", d, m),
                "identity_id": idn.identity_ids.take(ident),
                "user_id": idn.user_at(ident, created),
                "channel": _take(_vocab(TICKET_CHANNELS), _choice(rng, [45, 35, 20], m)),
                "category": _take(_vocab(TICKET_CATEGORIES), category),
                "created_ts": created,
                "first_response_ts": responded,
                "resolved_ts": resolved,
                "auto_resolved": auto,
                "sla_due_ts": created + _SLA[priority],
                "priority": _take(_vocab(PRIORITIES), priority),
            },
        )

    def _safety(self, rng: np.random.Generator, d: int, day0: int) -> None:
        """DMCA notices, SFW checks, and the takedowns both lead to."""
        lst, end = self.listings, self.end
        k = rng.poisson(DMCA_NOTICES_PER_DAY * self.cfg.scale)
        listing = self._pick_listings(rng, day0, k)
        received = day0 + (rng.random(len(listing)) * DAY).astype(np.int64)
        k = len(listing)
        actioned = received + _lognormal(rng, 18 * HOUR, 1.0, k)
        action = _choice(rng, [65, 10, 25], k)  # takedown, counter_notice, rejected
        self.sink.add(
            "support_dmca_notices",
            received // DAY,
            {
                "notice_id": self.ids("dmc_", d, k),
                "listing_id": lst.ids.take(listing),
                "claimant": _take(_vocab(CLAIMANTS), _choice(rng, [5, 3, 2, 2, 1, 4], k)),
                "received_ts": received,
                "actioned_ts": actioned,
                "action": _take(_vocab(DMCA_ACTIONS), action, null=actioned > end),
            },
        )
        taken = np.flatnonzero((action == 0) & (actioned <= end))

        c = rng.poisson(SFW_CHECKS_PER_DAY * self.cfg.scale * self.season[d])
        surface = _choice(rng, [35, 30, 8, 20, 7], c)  # SFW_SURFACES
        public = surface != SFW_SURFACES.index("messages")
        checked = day0 + _time_of_day(rng, c)
        violation = rng.random(c) < np.where(public, 0.004, 0.01)
        items = self.ids("med_", d, c)
        self.sink.add(
            "fact_sfw_checks",
            checked // DAY,
            {
                "check_id": self.ids("sfw_", d, c),
                "surface": _take(_vocab(SFW_SURFACES), surface),
                "is_public_surface": public,
                "item_id": items,
                "checked_ts": checked,
                "is_violation": violation,
            },
        )
        removed = np.flatnonzero(violation & (rng.random(c) < np.where(public, 0.85, 0.5)))
        requested = np.concatenate(
            [
                actioned[taken],
                checked[removed] + _lognormal(rng, 8 * MINUTE, 1.0, len(removed)),
            ]
        )
        t = len(requested)
        self.sink.add(
            "fact_takedowns",
            requested // DAY,
            {
                "takedown_id": self.ids("tkd_", d, t),
                "item_id": pa.concat_arrays([lst.ids.take(listing[taken]), items.take(removed)]),
                "source": _take(_vocab(("dmca", "moderation")), np.arange(t) >= len(taken)),
                "requested_ts": requested,
                "propagated_ts": requested + _lognormal(rng, 20 * MINUTE, 1.3, t),
            },
        )

    def _seo(self, rng: np.random.Generator, d: int) -> None:
        """Search-console rows: impressions long-tailed by page, CTR falling with position."""
        la = self.landings
        n = len(la.is_brand)
        indexed = (la.indexed_from <= d) & (d <= la.indexed_until)
        expected = la.impressions * self.cfg.scale * self.season[d] * rng.lognormal(0, 0.15, n)
        impressions = np.where(indexed, rng.poisson(expected), 0)
        position = la.position * rng.lognormal(0, 0.08, n)
        ctr = np.minimum(0.3 / position**0.9 * np.where(la.is_brand, 1.8, 1.0), 0.7)
        self.sink.add(
            "fact_seo_landings",
            np.full(n, self.sink.first_day + d),
            {
                "landing_path": la.paths,
                "query_class": _take(QUERY_CLASSES, la.is_brand),
                "impressions": impressions,
                "clicks": rng.binomial(impressions, ctr),
                "avg_position": np.where(impressions > 0, position.round(1), np.nan),
                "is_indexed": indexed,
                "is_submitted": la.is_submitted,
            },
        )

    # ----------------------------------------------------------------- dimensions

    def finish(self) -> None:
        """The unpartitioned dimensions, as of the window's end."""
        idn, lst, end = self.idn, self.listings, self.end
        everyone = np.arange(len(idn.first_seen))
        self.sink.write_whole(
            "dim_identities",
            {
                "identity_id": idn.identity_ids,
                "user_id": idn.user_at(everyone, end),
                "first_seen_ts": idn.first_seen,
                "became_user_ts": idn.became_user,
            },
        )
        self.sink.write_whole(
            "dim_listings",
            {
                "listing_id": lst.ids,
                "listing_kind": _take(LISTING_KINDS, lst.is_studio),
                "owner_user_id": idn.user_ids.take(lst.owner),
                "created_ts": lst.created,
                "city": _take(_vocab(CITIES), lst.city),
                "is_active": lst.deactivated > end,
                "deactivated_ts": lst.deactivated,
            },
        )


@dataclass(frozen=True)
class _Counts:
    """Events per session of the day, by kind."""

    crawler: np.ndarray
    buyer: np.ndarray  # a user (logged in) and no crawler: may message and book
    page: np.ndarray
    search: np.ndarray
    view: np.ndarray
    favorite: np.ndarray
    message: np.ndarray
    checkout_start: np.ndarray
    checkout_complete: np.ndarray
    pricing: np.ndarray  # the session's first page view is the pricing page


@dataclass(frozen=True)
class _Booked:
    """The day's checkout_complete events: their rows among the events, ids and amounts."""

    rows: slice
    ids: pa.Array
    amount: np.ndarray


@dataclass(frozen=True)
class _Consent:
    """The day's consent_change events: their rows among the events and what they set."""

    rows: slice
    flag: np.ndarray
    value: np.ndarray
    source: np.ndarray


def exposure_outcomes(
    rng: np.random.Generator, latent: np.ndarray, lift: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pre-period value, post-exposure value and conversion of exposed units.

    Both values share the unit's latent level (correlation about 0.6, what CUPED exploits);
    ``lift`` is the relative effect of each unit's variant on the value and on the conversion
    probability (base about 7%)."""
    z, n = latent.astype(np.float64), len(latent)
    pre = 25 * np.exp(0.6 * (0.8 * z + 0.6 * rng.standard_normal(n)) - 0.18)
    post = 25 * np.exp(0.6 * (0.8 * z + 0.6 * rng.standard_normal(n)) - 0.18) * (1 + lift)
    converted = rng.random(n) < np.minimum(0.07 * np.exp(0.5 * z - 0.125) * (1 + lift), 1.0)
    return pre, post, converted


def assign_variant(seed: int, experiment: Experiment, unit: np.ndarray) -> np.ndarray:
    """Variant index per unit: a hash of (experiment, unit) in 10,000 buckets cut by weight."""
    buckets = _mix48(unit.astype(np.uint64) + _salt(seed, f"exp:{experiment.key}"))
    buckets = (buckets % np.uint64(10_000)).astype(np.float64)
    edges = np.cumsum(experiment.weights) / sum(experiment.weights) * 10_000
    return np.searchsorted(edges, buckets, side="right").astype(np.int32)


def generate_lake(
    root: Path, cfg: LakeConfig, progress: Callable[[str], None] | None = None
) -> LakeSummary:
    """Write the whole demo lake under ``root`` (which should be empty)."""
    started = time.monotonic()
    gen = _Generator(cfg, root)
    every = max(1, cfg.days // 10)
    for d in range(cfg.days):
        gen.run_day(d)
        if progress and ((d + 1) % every == 0 or d + 1 == cfg.days):
            raw = gen.sink.rows["raw_events"]
            rate = raw / max(time.monotonic() - started, 1e-9)
            day = cfg.start_date + timedelta(days=d)
            progress(f"  {day} (day {d + 1}/{cfg.days}): {raw:,} raw events, {rate:,.0f} events/s")
    gen.finish()
    return LakeSummary(
        rows=dict(gen.sink.rows),
        raw_events=gen.sink.rows["raw_events"],
        seconds=time.monotonic() - started,
    )
