"""The Celery application both sides build from the settings.

Tasks are JSON (``accept_content``): the workers hold the signing key, so nothing that arrives
through the broker may be unpickled there. A task is acknowledged only when it has finished
(``acks_late``) and put back in the queue if the process running it dies
(``reject_on_worker_lost``); each worker process reserves one task at a time
(``worker_prefetch_multiplier = 1``), so a killed worker holds at most one chunk per process.
Results do not go through a result backend (see ``replies``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from celery import Celery

from certsvc.config import Settings

SIGN_CHUNK = "certsvc.sign_chunk"
WORKER_INFO = "certsvc_worker_info"  # remote-control command: which queue, how many processes


def make_app(settings: Settings) -> Celery:
    if not settings.broker_url:
        from certsvc.errors import ConfigError

        raise ConfigError(
            "CERTSVC_BROKER_URL is not set: Celery workers need a broker (redis://… or amqp://…)"
        )
    app = Celery("certsvc", broker=settings.broker_url, set_as_current=False)
    transport: dict[str, Any] = {}
    if urlsplit(settings.broker_url).scheme in ("redis", "rediss"):
        # a task held by a worker that died with it comes back after this long; the
        # coordinator does not wait for that (it sends an unanswered chunk again)
        transport["visibility_timeout"] = 3600
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_default_queue=settings.broker_queue,
        broker_connection_timeout=settings.broker_timeout,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport,
        worker_send_task_events=False,
        enable_utc=True,
    )
    return app
