from django.dispatch import Signal

# Sent by the DSAR job once the lake no longer holds a subject's ids, with identity_id and
# user_id (either may be ""), linked_ids (the ids linked to them, erased too) and tombstone:
# apps holding their own per-identity state or cache entries (e.g. assignments) connect a
# receiver and drop or tombstone it.
identity_erased = Signal()
