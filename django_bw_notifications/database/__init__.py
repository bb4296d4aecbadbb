"""How the request path talks to the database under a time budget.

:mod:`.budget` gives each statement its share of the time left; :mod:`.deadlines`
severs a connection whose server stops answering; :mod:`.roundtrips` says whether
several statements can share one message. Used by the store
(:mod:`django_bw_notifications.intake.storage`) and the claims
(:mod:`django_bw_notifications.dispatch.claims`); knows nothing of the models.
"""
