"""Identity and user ids out of the request logs: an erased subject's ids must not stay in the
access log of the consent API (`/api/consent/<identity_id>`) or of any page that takes one.

MaskIds is a logging filter: it renders the record's message and replaces, with ``<id>``,
every id of the lake contract's formats (idn_…, usr_…) wherever it stands, the path segment of
the consent API (apps send it any id, of any shape), and the values of query parameters that
carry ids (identity_id, user_id, …_id of those, unit). ``<id>`` rather than a keyed hash: a
hash under the kept PRIVACY_HASH_KEY would still single the subject out after erasure.

Attached to Django's handlers in settings.LOGGING (the root console and django.server, which
logs runserver's requests) and, when the portal runs under gunicorn, to its access logger
(privacy.apps), since gunicorn configures that logger itself.
"""

import logging
import re

from warehouse.lake.contract import ID_FORMATS

MASK = "<id>"
_ID = re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(ID_FORMATS.values()) + r")(?![A-Za-z0-9_])")
# Everything up to the next separator of a URL or a log line.
_CONSENT_SEGMENT = re.compile(r"(/api/consent/)[^/?#\s\"']+")
# Plain or URL-encoded once (a login redirect's ?next=/privacy/consent/%3Fidentity_id%3D…).
_ID_PARAM = re.compile(
    r"((?:[?&;]|%3[Ff]|%26)(?:[\w.-]*identity_id|[\w.-]*user_id|unit)(?:=|%3[Dd]))"
    r"(?:(?!%26)[^&;#\s\"'])*"
)


def mask_ids(text: str) -> str:
    text = _CONSENT_SEGMENT.sub(rf"\g<1>{MASK}", text)
    text = _ID_PARAM.sub(rf"\g<1>{MASK}", text)
    return _ID.sub(MASK, text)


class MaskIds(logging.Filter):
    """Masks ids in the rendered message; the record is kept (never dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_ids(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


GUNICORN_ACCESS_LOGGER = "gunicorn.access"


def install_gunicorn() -> None:
    """Mask the ids in gunicorn's access log (its own logger, set up before Django's)."""
    logger = logging.getLogger(GUNICORN_ACCESS_LOGGER)
    if not any(isinstance(f, MaskIds) for f in logger.filters):
        logger.addFilter(MaskIds())
