"""Batch signing on Celery workers of any number of machines (``CERTSVC_BROKER_URL``).

``coordinator`` (in ``certsvc batch run``) sends chunks of candidates and records what comes
back; ``service`` is ``certsvc worker``; ``signing`` is what a worker process does with a
chunk; ``messages`` and ``replies`` are what travels and how. The README's "Batch on several
machines" says why there is one writer (the coordinator) and what happens when a worker or the
coordinator dies.
"""
