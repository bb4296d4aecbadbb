"""The way in: from an authenticated delivery to a stored (or spooled, or refused) row.

The endpoint (:mod:`django_bw_notifications.views`) is HTTP only; everything it decides
with lies here: its gates (:mod:`.auth`, :mod:`.addresses`), the facts of an arrival
(:mod:`.delivery`), the one entry point of the delivery guarantee (:mod:`.pipeline`), the
store within the time budget (:mod:`.storage`), the local spool (:mod:`.spool`) and the
entry for other sources of notifications (:mod:`.ingest`).
"""
