"""The lake's table contract: every table the portal reads, its columns and who may read it.

Production dbt models must satisfy this contract; docs/lake_contract.md is generated from it
(`manage.py lake_contract --write`) and a test keeps the two in step.
"""

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum

from portal.roles import Access

# The two kinds of id the identity columns hold, and their formats: what the pipeline writes
# (demo_lake.ids makes the demo's ids the same way). A column named ``*identity_id``
# holds identity ids, one named ``*user_id`` user ids. A DSAR subject must be an id of one of
# these formats: a city name or an e-mail address typed in by mistake is refused, not searched.
ID_FORMATS: dict[str, str] = {
    "identity_id": r"idn_[0-9a-f]{12}",
    "user_id": r"usr_[0-9a-f]{12}",
}
ID_FORMAT_HELP: dict[str, str] = {
    "identity_id": "idn_ followed by 12 lower-case hex digits, e.g. idn_3fa9c01b2e7d",
    "user_id": "usr_ followed by 12 lower-case hex digits, e.g. usr_0c41d9e07a55",
}
_ID_RE = {kind: re.compile(pattern) for kind, pattern in ID_FORMATS.items()}


def id_kind(column: str) -> str:
    """The kind of id an identity column holds (a key of ID_FORMATS)."""
    for kind in ID_FORMATS:
        if column.endswith(kind):
            return kind
    raise ValueError(f"identity column {column!r} names neither kind of id {sorted(ID_FORMATS)}")


def id_matches(kind: str, value: str) -> bool:
    """Whether ``value`` is an id of ``kind`` (identity_id or user_id) as the contract writes it."""
    return _ID_RE[kind].fullmatch(value) is not None


class Layer(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Athena (Trino) type: varchar, bigint, integer, double, boolean, timestamp, date
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    layer: Layer
    description: str
    columns: tuple[Column, ...]
    partition_column: str | None = "event_dt"
    # Columns holding identity_id or user_id values (DSAR erasure scans these).
    identity_columns: tuple[str, ...] = ()
    access: Access = Access.GENERAL
    # "pipeline": loaded by the data pipeline (and the demo lake); "portal": written by the portal;
    # "view": a view, defined by ``definition``.
    writer: str = "pipeline"
    # Views only: canonical (Trino) SQL over contract tables (see warehouse.lake.views).
    definition: str | None = None
    column_names: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = tuple(c.name for c in self.columns)
        object.__setattr__(self, "column_names", names)
        missing = set(self.identity_columns) - set(names)
        if missing:
            raise ValueError(f"{self.name}: identity columns {sorted(missing)} are not columns")
        for column in self.identity_columns:
            id_kind(column)  # every identity column holds one declared kind of id
        if self.partition_column and self.partition_column not in names:
            raise ValueError(f"{self.name}: partition column {self.partition_column} missing")
        if (self.definition is None) == (self.writer == "view"):
            raise ValueError(f"{self.name}: a view has a definition and writer 'view'")

    @property
    def is_view(self) -> bool:
        return self.definition is not None

    @property
    def bucket_column(self) -> str | None:
        """The id a big partition's files are split by (warehouse.lake.layout): the first
        identity column, so that one identity's rows of a day sit in one file."""
        return self.identity_columns[0] if self.identity_columns else None


class UnknownTable(KeyError):
    pass


def _cols(*specs: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


def _event_dt(meaning: str) -> tuple[str, str, str]:
    return ("event_dt", "date", f"Partition (Hive directory `event_dt=YYYY-MM-DD`): {meaning}.")


_B, _S, _G = Layer.BRONZE, Layer.SILVER, Layer.GOLD

_CONSENT_CHANGE_ID = "Unique change id: cns_ followed by 12 lower-case hex digits."
_CONSENT_SOURCE = (
    "banner, settings or api (the app's answer); privacy_team: recorded in the portal by the "
    "privacy team on the subject's instruction (its proof stays in the portal's audit log)."
)

_TABLES: tuple[Table, ...] = (
    # --- Bronze: what the ingest endpoint received, as received.
    Table(
        name="raw_events",
        layer=_B,
        description=(
            "Every accepted client event as ingested: late arrivals, retried duplicates (same "
            "event_id twice) and events later lost on the way to silver included."
        ),
        columns=_cols(
            ("event_id", "varchar", "Client-generated id; a retried send repeats it."),
            ("event_name", "varchar", "e.g. app.start, search, profile_view, message_sent."),
            ("schema_version", "integer", "Version of the event's payload schema."),
            ("identity_id", "varchar", "Device/browser identity."),
            ("user_id", "varchar", "Null until the identity becomes a user."),
            ("session_id", "varchar", "Every session starts with an app.start event."),
            ("client_ts", "timestamp", "When the event happened, client clock (UTC)."),
            ("ingest_ts", "timestamp", "When the ingest endpoint accepted it (UTC)."),
            ("user_agent", "varchar", "Client user agent; crawlers included."),
            ("payload", "varchar", "Event-specific JSON object (allowlisted keys expected)."),
            _event_dt("date of ingest_ts"),
        ),
        identity_columns=("identity_id", "user_id"),
    ),
    Table(
        name="dead_letter_events",
        layer=_B,
        description="Events the ingest validator rejected, with the reason (daily triage).",
        columns=_cols(
            ("event_id", "varchar", "Client-generated id."),
            ("event_name", "varchar", "As sent (may be unknown)."),
            ("identity_id", "varchar", "Device/browser identity."),
            ("user_id", "varchar", "Null for anonymous identities."),
            (
                "reason",
                "varchar",
                "schema_validation_failed:missing_field:<field>, unknown_event_name, "
                "payload_too_large, pii_key_not_allowed:<key> or malformed_json.",
            ),
            ("received_ts", "timestamp", "When the ingest endpoint received it (UTC)."),
            ("payload", "varchar", "The payload text as received (may not be valid JSON)."),
            _event_dt("date of received_ts"),
        ),
        identity_columns=("identity_id", "user_id"),
    ),
    # --- Silver: cleaned events.
    Table(
        name="events",
        layer=_S,
        description="Valid events, deduplicated on event_id; events lost in transit are missing.",
        columns=_cols(
            ("event_id", "varchar", "Unique in this table."),
            ("event_name", "varchar", "As in raw_events."),
            ("identity_id", "varchar", "Device/browser identity."),
            ("user_id", "varchar", "Null until the identity becomes a user."),
            ("session_id", "varchar", "Session the event belongs to."),
            ("client_ts", "timestamp", "When the event happened (UTC)."),
            ("ingest_ts", "timestamp", "First ingest of the event (UTC)."),
            ("silver_processed_ts", "timestamp", "When the silver job wrote it (UTC)."),
            (
                "surface",
                "varchar",
                "app, search_results, profile_page, studio_page, messages, checkout, email, "
                "pricing_page, landing or settings.",
            ),
            ("profile_id", "varchar", "Profile the event is about, if any."),
            ("studio_id", "varchar", "Studio the event is about, if any."),
            ("user_agent", "varchar", "Client user agent."),
            _event_dt("date of ingest_ts"),
        ),
        identity_columns=("identity_id", "user_id"),
    ),
    # --- Gold: modelled facts and dimensions.
    Table(
        name="fact_funnel_events",
        layer=_G,
        description="One row per marketplace funnel step event (from silver events).",
        columns=_cols(
            ("event_id", "varchar", "Silver event id."),
            ("identity_id", "varchar", "Device/browser identity."),
            ("user_id", "varchar", "Null for anonymous identities."),
            ("session_id", "varchar", "Session of the event."),
            (
                "step",
                "varchar",
                "search, profile_view (a listing page view, profile or studio), message, "
                "checkout_start or checkout_complete.",
            ),
            ("profile_id", "varchar", "Listing id (profile or studio); null for search."),
            ("listing_kind", "varchar", "profile or studio; null for search."),
            ("event_ts", "timestamp", "Client time of the event (UTC)."),
            ("silver_processed_ts", "timestamp", "When silver wrote the event (UTC)."),
            ("gold_processed_ts", "timestamp", "When this row was written (UTC)."),
            _event_dt("date of event_ts"),
        ),
        identity_columns=("identity_id", "user_id"),
    ),
    Table(
        name="fact_bookings",
        layer=_G,
        description=(
            "Completed bookings (one per checkout_complete) with after-sale flags as of the "
            "last load; amounts of refunds, disputes and chargebacks are in the fin_* tables."
        ),
        columns=_cols(
            ("booking_id", "varchar", "Unique booking id."),
            ("user_id", "varchar", "Booking user."),
            ("identity_id", "varchar", "Identity that completed checkout."),
            ("profile_id", "varchar", "Booked listing id (profile or studio, see listing_kind)."),
            ("listing_kind", "varchar", "profile or studio."),
            ("booked_ts", "timestamp", "Equals the checkout_complete event's client time."),
            ("amount_cents", "bigint", "Booking value in minor units."),
            ("currency", "varchar", "ISO 4217 code (the demo is single-currency: EUR)."),
            ("is_refunded", "boolean", "A fin_refunds row exists."),
            ("is_disputed", "boolean", "A fin_disputes row exists."),
            ("has_chargeback", "boolean", "A fin_chargebacks row exists."),
            ("chargeback_outcome", "varchar", "won, lost, pending; null without chargeback."),
            _event_dt("date of booked_ts"),
        ),
        identity_columns=("user_id", "identity_id"),
    ),
    Table(
        name="fin_refunds",
        layer=_G,
        description="Refunds of bookings.",
        columns=_cols(
            ("refund_id", "varchar", "Unique refund id."),
            ("booking_id", "varchar", "Refunded booking (fact_bookings)."),
            ("user_id", "varchar", "Booking user."),
            ("amount_cents", "bigint", "Refunded amount (full or partial)."),
            ("reason", "varchar", "cancelled_by_client, cancelled_by_provider, no_show, ..."),
            ("requested_ts", "timestamp", "When the refund was requested (UTC)."),
            ("refunded_ts", "timestamp", "When the money went back; null while processing."),
            _event_dt("date of requested_ts"),
        ),
        identity_columns=("user_id",),
        access=Access.FINANCE,
    ),
    Table(
        name="fin_disputes",
        layer=_G,
        description="Disputes opened on bookings.",
        columns=_cols(
            ("dispute_id", "varchar", "Unique dispute id."),
            ("booking_id", "varchar", "Disputed booking (fact_bookings)."),
            ("user_id", "varchar", "Booking user."),
            ("amount_cents", "bigint", "Disputed amount."),
            ("opened_ts", "timestamp", "When the dispute was opened (UTC)."),
            ("closed_ts", "timestamp", "When it was decided; null while open."),
            ("outcome", "varchar", "won, lost (for the platform) or pending."),
            _event_dt("date of opened_ts"),
        ),
        identity_columns=("user_id",),
        access=Access.FINANCE,
    ),
    Table(
        name="fin_chargebacks",
        layer=_G,
        description="Card chargebacks on bookings.",
        columns=_cols(
            ("chargeback_id", "varchar", "Unique chargeback id."),
            ("booking_id", "varchar", "Charged-back booking (fact_bookings)."),
            ("user_id", "varchar", "Booking user."),
            ("amount_cents", "bigint", "Charged-back amount."),
            ("received_ts", "timestamp", "When the card network notified us (UTC)."),
            ("resolved_ts", "timestamp", "When it was decided; null while pending."),
            ("outcome", "varchar", "won, lost or pending (equals fact_bookings)."),
            ("card_country", "varchar", "ISO 3166 country of the card."),
            _event_dt("date of received_ts"),
        ),
        identity_columns=("user_id",),
        access=Access.FINANCE,
    ),
    Table(
        name="dim_listings",
        layer=_G,
        description="Every listing (profiles and studios), created before or during the window.",
        columns=_cols(
            ("listing_id", "varchar", "Profile or studio id."),
            ("listing_kind", "varchar", "profile or studio."),
            ("owner_user_id", "varchar", "User who owns the listing."),
            ("created_ts", "timestamp", "When the listing was created (UTC)."),
            ("city", "varchar", "City slug, e.g. berlin."),
            ("is_active", "boolean", "Not deactivated as of the last load."),
            ("deactivated_ts", "timestamp", "When it was deactivated; null while active."),
        ),
        partition_column=None,
        identity_columns=("owner_user_id",),
    ),
    Table(
        name="fact_listing_updates",
        layer=_G,
        description="Edits of listings by their owners (supply freshness).",
        columns=_cols(
            ("listing_id", "varchar", "Edited listing."),
            ("listing_kind", "varchar", "profile or studio."),
            ("updated_ts", "timestamp", "When the edit was saved (UTC)."),
            ("update_kind", "varchar", "photos, pricing, availability, description or services."),
            _event_dt("date of updated_ts"),
        ),
    ),
    Table(
        name="fact_availability_snapshots",
        layer=_G,
        description="One row per active listing per day: bookable slots in the next 14 days.",
        columns=_cols(
            ("listing_id", "varchar", "Active listing."),
            ("listing_kind", "varchar", "profile or studio."),
            ("open_slots_next_14d", "integer", "Open slots in the 14 days after the snapshot."),
            _event_dt("snapshot date"),
        ),
    ),
    Table(
        name="fact_messages_sent",
        layer=_G,
        description=(
            "Emails sent to users: weekly digests (only with marketing consent) and alerts."
        ),
        columns=_cols(
            ("message_id", "varchar", "Unique email id."),
            ("identity_id", "varchar", "Recipient's identity."),
            ("user_id", "varchar", "Recipient."),
            ("kind", "varchar", "digest or alert."),
            ("sent_ts", "timestamp", "When it was sent (UTC)."),
            ("opened_ts", "timestamp", "First open; null if not opened."),
            ("clicked_ts", "timestamp", "First click; null if not clicked."),
            _event_dt("date of sent_ts"),
        ),
        identity_columns=("identity_id", "user_id"),
    ),
    Table(
        name="fact_referrals",
        layer=_G,
        description="Referral invitations and what became of them.",
        columns=_cols(
            ("referral_id", "varchar", "Unique referral id."),
            ("referrer_user_id", "varchar", "User who invited."),
            ("referee_identity_id", "varchar", "Identity of the invited person."),
            ("referee_user_id", "varchar", "Null until the referee signs up."),
            ("invited_ts", "timestamp", "When the invitation was used (UTC)."),
            ("signed_up_ts", "timestamp", "When the referee signed up; null if not (yet)."),
            ("qualified_ts", "timestamp", "When the referral qualified for the reward; nullable."),
            _event_dt("date of invited_ts"),
        ),
        identity_columns=("referrer_user_id", "referee_identity_id", "referee_user_id"),
    ),
    Table(
        name="fact_promo_spend",
        layer=_G,
        description="Daily spend per promotion.",
        columns=_cols(
            ("promo_id", "varchar", "Promotion id."),
            ("channel", "varchar", "paid_search, paid_social, affiliate or display."),
            ("spend_cents", "bigint", "Spend on the day, EUR cents."),
            _event_dt("spend date"),
        ),
    ),
    Table(
        name="fact_attribution_touches",
        layer=_G,
        description=(
            "Paid marketing touches; recorded only for identities with marketing consent."
        ),
        columns=_cols(
            ("touch_id", "varchar", "Unique touch id."),
            ("identity_id", "varchar", "Touched identity."),
            ("user_id", "varchar", "Null for anonymous identities."),
            ("promo_id", "varchar", "Promotion of the touch."),
            ("channel", "varchar", "Channel of the promotion."),
            ("touch_ts", "timestamp", "When the visit from the promotion started (UTC)."),
            _event_dt("date of touch_ts"),
        ),
        identity_columns=("identity_id", "user_id"),
    ),
    Table(
        name="fact_attribution_conversions",
        layer=_G,
        description="Bookings attributed to a promotion (last paid touch within 30 days).",
        columns=_cols(
            ("booking_id", "varchar", "Attributed booking (fact_bookings)."),
            ("identity_id", "varchar", "Converting identity."),
            ("user_id", "varchar", "Booking user."),
            ("promo_id", "varchar", "Promotion credited."),
            ("channel", "varchar", "Channel of the promotion."),
            ("model", "varchar", "Attribution model: last_touch."),
            ("revenue_cents", "bigint", "Booking value credited, EUR cents."),
            ("converted_ts", "timestamp", "Booking time (UTC)."),
            _event_dt("date of converted_ts"),
        ),
        identity_columns=("identity_id", "user_id"),
    ),
    Table(
        name="fact_seo_landings",
        layer=_G,
        description="Search-console numbers: one row per landing page per day.",
        columns=_cols(
            ("landing_path", "varchar", "Landing page path, e.g. /berlin/photographers."),
            ("query_class", "varchar", "brand or non_brand."),
            ("impressions", "bigint", "Search result impressions."),
            ("clicks", "bigint", "Clicks from search results."),
            ("avg_position", "double", "Average result position; null without impressions."),
            ("is_indexed", "boolean", "Page is in the search index."),
            ("is_submitted", "boolean", "Page is in the submitted sitemap."),
            _event_dt("report date"),
        ),
    ),
    Table(
        name="support_tickets",
        layer=_G,
        description="Support tickets with response and resolution times.",
        columns=_cols(
            ("ticket_id", "varchar", "Unique ticket id."),
            ("identity_id", "varchar", "Requester's identity."),
            ("user_id", "varchar", "Requester; null for anonymous requesters."),
            ("channel", "varchar", "email, chat or web_form."),
            ("category", "varchar", "account, booking, refund, safety, dmca or other."),
            ("created_ts", "timestamp", "When the ticket was opened (UTC)."),
            ("first_response_ts", "timestamp", "First answer; null if none yet."),
            ("resolved_ts", "timestamp", "When resolved; null while open."),
            ("auto_resolved", "boolean", "Resolved by automation without an agent."),
            ("sla_due_ts", "timestamp", "First response is due by then (by priority)."),
            ("priority", "varchar", "low, normal, high or urgent."),
            _event_dt("date of created_ts"),
        ),
        identity_columns=("identity_id", "user_id"),
        access=Access.SUPPORT,
    ),
    Table(
        name="support_dmca_notices",
        layer=_G,
        description="Copyright (DMCA) notices against listings and how they were handled.",
        columns=_cols(
            ("notice_id", "varchar", "Unique notice id."),
            ("listing_id", "varchar", "Listing the notice is about."),
            ("claimant", "varchar", "Rights holder (organisation name)."),
            ("received_ts", "timestamp", "When the notice arrived (UTC)."),
            ("actioned_ts", "timestamp", "When it was decided; null while open."),
            ("action", "varchar", "takedown, counter_notice or rejected; null while open."),
            _event_dt("date of received_ts"),
        ),
        access=Access.SUPPORT,
    ),
    Table(
        name="fact_sfw_checks",
        layer=_G,
        description="Safe-for-work classifier checks of content shown on a surface.",
        columns=_cols(
            ("check_id", "varchar", "Unique check id."),
            (
                "surface",
                "varchar",
                "search_results, profile_page, studio_page, messages or landing.",
            ),
            ("is_public_surface", "boolean", "Surface is visible without login."),
            ("item_id", "varchar", "Checked media item."),
            ("checked_ts", "timestamp", "When the check ran (UTC)."),
            ("is_violation", "boolean", "Content was not safe for work."),
            _event_dt("date of checked_ts"),
        ),
    ),
    Table(
        name="fact_doc_verifications",
        layer=_G,
        description="Identity document checks of listing owners.",
        columns=_cols(
            ("verification_id", "varchar", "Unique verification id."),
            ("user_id", "varchar", "Listing owner."),
            ("listing_id", "varchar", "Listing the verification is for."),
            ("submitted_ts", "timestamp", "When documents were submitted (UTC)."),
            ("verified_ts", "timestamp", "When reviewed (verified or rejected); null if pending."),
            ("status", "varchar", "verified, rejected or pending."),
            _event_dt("date of submitted_ts"),
        ),
        identity_columns=("user_id",),
    ),
    Table(
        name="fact_takedowns",
        layer=_G,
        description="Content takedowns and when they reached every surface and cache.",
        columns=_cols(
            ("takedown_id", "varchar", "Unique takedown id."),
            ("item_id", "varchar", "Listing id (dmca) or media item id (moderation)."),
            ("source", "varchar", "dmca or moderation."),
            ("requested_ts", "timestamp", "When the takedown was ordered (UTC)."),
            ("propagated_ts", "timestamp", "When it was live everywhere; null if not yet."),
            _event_dt("date of requested_ts"),
        ),
    ),
    Table(
        name="consent_changes",
        layer=_G,
        description=(
            "Every change of a consent flag, from the banner, settings, the API or the privacy "
            "team. The pipeline loads the changes apps report; the portal appends those made "
            "through it (its consent API and console: a file of its own in the day's partition, "
            "or an INSERT), so the table stays the one record of consent. The log is "
            "complete (it has partitions from before other tables' windows): consent at time t is "
            "the latest row per identity and flag at or before t; without a row it is not given."
        ),
        columns=_cols(
            ("change_id", "varchar", _CONSENT_CHANGE_ID),
            ("identity_id", "varchar", "Identity whose consent changed."),
            (
                "user_id",
                "varchar",
                "Null for anonymous identities, and in the rows the portal writes (it knows the "
                "identity only; dim_identities links it to its user).",
            ),
            ("flag", "varchar", "marketing, analytics or personalization."),
            ("value", "boolean", "New value."),
            ("source", "varchar", _CONSENT_SOURCE),
            ("changed_ts", "timestamp", "When it changed (UTC)."),
            _event_dt("date of changed_ts"),
        ),
        identity_columns=("identity_id", "user_id"),
        access=Access.PRIVACY,
    ),
    Table(
        name="dim_identities",
        layer=_G,
        description="Every identity seen so far; about a fifth became users.",
        columns=_cols(
            ("identity_id", "varchar", "Device/browser identity."),
            ("user_id", "varchar", "Null unless the identity became a user."),
            ("first_seen_ts", "timestamp", "First session start (UTC)."),
            ("became_user_ts", "timestamp", "Sign-up time; null if not a user."),
        ),
        partition_column=None,
        identity_columns=("identity_id", "user_id"),
    ),
    Table(
        name="fact_experiment_exposures",
        layer=_G,
        description=(
            "First exposure of each unit (identity) to each experiment, with the pre-period "
            "covariate and post-exposure outcomes."
        ),
        columns=_cols(
            ("experiment_key", "varchar", "e.g. search_ranking_v2."),
            ("variant", "varchar", "Assigned variant; known crawlers always see control."),
            ("identity_id", "varchar", "Unit of assignment."),
            ("user_id", "varchar", "Null for anonymous identities."),
            ("exposure_ts", "timestamp", "First exposure (UTC)."),
            ("surface", "varchar", "Surface where the exposure happened."),
            ("user_agent", "varchar", "User agent at exposure (filter known crawlers)."),
            (
                "country",
                "varchar",
                "ISO 3166 country of the exposure's request (GeoIP); null when unknown.",
            ),
            ("pre_value", "double", "Activity value in the 28 days before exposure (CUPED)."),
            ("outcome_value", "double", "The same measure in the 28 days after exposure."),
            ("converted", "boolean", "Booked within 28 days after exposure."),
            (
                "pre_converted",
                "boolean",
                "Booked within the 28 days before exposure (CUPED of conversion).",
            ),
            _event_dt("date of exposure_ts"),
        ),
        identity_columns=("identity_id", "user_id"),
    ),
    Table(
        name="fact_experiment_result",
        layer=_G,
        description=(
            "Written by the portal's experiments job (not by the demo lake): one row per "
            "experiment, variant and metric per computation day."
        ),
        columns=_cols(
            ("experiment_key", "varchar", "Experiment."),
            ("variant", "varchar", "Variant compared with control."),
            ("metric", "varchar", "Metric key."),
            ("lift_abs", "double", "Variant minus control."),
            ("lift_rel", "double", "lift_abs divided by the control value."),
            ("ci_low", "double", "Lower bound of the interval for lift_abs."),
            ("ci_high", "double", "Upper bound of the interval for lift_abs."),
            ("p_value", "double", "Frequentist p-value (null for Bayesian-only metrics)."),
            ("prob_beat_control", "double", "Posterior probability the variant beats control."),
            ("time_to_decision_days", "double", "Estimated days until a decision; nullable."),
            ("computed_at", "timestamp", "When the row was computed (UTC)."),
            _event_dt("computation date"),
        ),
        writer="portal",
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in _TABLES}


def _view(
    name: str, access: Access, description: str, columns: tuple, definition: str, ids=()
) -> Table:
    return Table(
        name=name,
        layer=Layer.GOLD,
        description=description,
        columns=_cols(*columns),
        identity_columns=ids,
        access=access,
        writer="view",
        definition=definition,
    )


# --- Views: how the support, finance and privacy roles read restricted tables. Each keeps the
# columns its role needs and none of the others (no user ids for support and finance).
_VIEWS: tuple[Table, ...] = (
    _view(
        "finance_cases_v",
        Access.FINANCE_VIEW,
        "Refunds, disputes and chargebacks in one list, with amounts, currency and outcomes.",
        (
            ("case_kind", "varchar", "refund, dispute or chargeback."),
            ("case_id", "varchar", "refund_id, dispute_id or chargeback_id."),
            ("booking_id", "varchar", "The booking concerned (fact_bookings)."),
            ("amount_cents", "bigint", "Amount refunded, disputed or charged back."),
            ("currency", "varchar", "Currency of the booking; null if the booking is unknown."),
            (
                "outcome",
                "varchar",
                "Refunds: refunded or processing; disputes and chargebacks: won, lost, pending.",
            ),
            ("reason", "varchar", "Refund reason; null for disputes and chargebacks."),
            ("card_country", "varchar", "Chargebacks: country of the card; null otherwise."),
            ("opened_ts", "timestamp", "Requested (refund), opened (dispute), received (cb)."),
            ("closed_ts", "timestamp", "Refunded, closed or resolved; null while open."),
            _event_dt("date of opened_ts"),
        ),
        """
        WITH cases AS (
            SELECT 'refund' AS case_kind, refund_id AS case_id, booking_id, amount_cents,
                   CASE WHEN refunded_ts IS NULL THEN 'processing' ELSE 'refunded' END
                       AS outcome,
                   reason, CAST(NULL AS varchar) AS card_country,
                   requested_ts AS opened_ts, refunded_ts AS closed_ts, event_dt
            FROM fin_refunds
            UNION ALL
            SELECT 'dispute', dispute_id, booking_id, amount_cents, outcome,
                   CAST(NULL AS varchar), CAST(NULL AS varchar), opened_ts, closed_ts, event_dt
            FROM fin_disputes
            UNION ALL
            SELECT 'chargeback', chargeback_id, booking_id, amount_cents, outcome,
                   CAST(NULL AS varchar), card_country, received_ts, resolved_ts, event_dt
            FROM fin_chargebacks
        ),
        currencies AS (SELECT DISTINCT booking_id, currency FROM fact_bookings)
        SELECT c.case_kind, c.case_id, c.booking_id, c.amount_cents, b.currency, c.outcome,
               c.reason, c.card_country, c.opened_ts, c.closed_ts, c.event_dt
        FROM cases c LEFT JOIN currencies b ON b.booking_id = c.booking_id
        """,
    ),
    _view(
        "support_tickets_v",
        Access.SUPPORT_VIEW,
        "Support tickets with response and resolution times and SLA breach; no requester ids.",
        (
            ("ticket_id", "varchar", "Unique ticket id."),
            ("channel", "varchar", "email, chat or web_form."),
            ("category", "varchar", "account, booking, refund, safety, dmca or other."),
            ("priority", "varchar", "low, normal, high or urgent."),
            ("created_ts", "timestamp", "When the ticket was opened (UTC)."),
            ("first_response_ts", "timestamp", "First answer; null if none yet."),
            ("resolved_ts", "timestamp", "When resolved; null while open."),
            ("auto_resolved", "boolean", "Resolved by automation without an agent."),
            ("sla_due_ts", "timestamp", "First response is due by then (by priority)."),
            ("first_response_minutes", "double", "created_ts to first_response_ts; nullable."),
            ("resolution_minutes", "double", "created_ts to resolved_ts; nullable."),
            (
                "sla_breached",
                "boolean",
                "First response after sla_due_ts; null while unanswered or sla_due_ts is null.",
            ),
            _event_dt("date of created_ts"),
        ),
        """
        SELECT ticket_id, channel, category, priority, created_ts, first_response_ts,
               resolved_ts, auto_resolved, sla_due_ts,
               (to_unixtime(first_response_ts) - to_unixtime(created_ts)) / 60.0
                   AS first_response_minutes,
               (to_unixtime(resolved_ts) - to_unixtime(created_ts)) / 60.0 AS resolution_minutes,
               first_response_ts > sla_due_ts AS sla_breached,
               event_dt
        FROM support_tickets
        """,
    ),
    _view(
        "support_dmca_notices_v",
        Access.SUPPORT_VIEW,
        "Copyright (DMCA) notices and their handling, with the cycle time.",
        (
            ("notice_id", "varchar", "Unique notice id."),
            ("listing_id", "varchar", "Listing the notice is about."),
            ("claimant", "varchar", "Rights holder (organisation name)."),
            ("received_ts", "timestamp", "When the notice arrived (UTC)."),
            ("actioned_ts", "timestamp", "When it was decided; null while open."),
            ("action", "varchar", "takedown, counter_notice or rejected; null while open."),
            ("cycle_hours", "double", "received_ts to actioned_ts; null while open."),
            _event_dt("date of received_ts"),
        ),
        """
        SELECT notice_id, listing_id, claimant, received_ts, actioned_ts, action,
               (to_unixtime(actioned_ts) - to_unixtime(received_ts)) / 3600.0 AS cycle_hours,
               event_dt
        FROM support_dmca_notices
        """,
    ),
    _view(
        "consent_changes_v",
        Access.PRIVACY_VIEW,
        "Consent changes per identity (the privacy team's view; no user ids).",
        (
            ("change_id", "varchar", _CONSENT_CHANGE_ID),
            ("identity_id", "varchar", "Identity whose consent changed."),
            ("flag", "varchar", "marketing, analytics or personalization."),
            ("value", "boolean", "New value."),
            ("source", "varchar", _CONSENT_SOURCE),
            ("changed_ts", "timestamp", "When it changed (UTC)."),
            _event_dt("date of changed_ts"),
        ),
        """
        SELECT change_id, identity_id, flag, value, source, changed_ts, event_dt
        FROM consent_changes
        """,
        ids=("identity_id",),
    ),
)

VIEWS: dict[str, Table] = {v.name: v for v in _VIEWS}


def fingerprint() -> str:
    """A short hash of every table's columns and types: a lake built for another contract
    lacks (or has extra) columns its queries read."""
    shape = [(t.name, [(c.name, c.type) for c in t.columns]) for t in TABLES.values()]
    return hashlib.sha256(repr(shape).encode()).hexdigest()[:12]


def table(name: str) -> Table:
    """A table or view of the contract by name (case-insensitive)."""
    key = name.lower()
    try:
        return TABLES[key] if key in TABLES else VIEWS[key]
    except KeyError:
        raise UnknownTable(name) from None


def partitioned_tables() -> dict[str, str]:
    """Table or view name -> partition column, for those that are partitioned."""
    relations = [*TABLES.values(), *VIEWS.values()]
    return {t.name: t.partition_column for t in relations if t.partition_column}
