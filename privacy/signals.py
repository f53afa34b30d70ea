from django.dispatch import Signal

# Sent by the DSAR job once the lake no longer holds a subject's ids, with identity_id,
# user_id (either may be "") and tombstone: apps holding their own per-identity state or
# cache entries (e.g. assignments) connect a receiver and drop or tombstone it.
identity_erased = Signal()
