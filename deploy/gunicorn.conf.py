"""gunicorn settings for certsvc's public verification service.

    gunicorn -c deploy/gunicorn.conf.py 'certsvc.web:create_app()'

Everything here can be set from the environment (the systemd unit reads
``/etc/certsvc/certsvc.env``); the ``CERTSVC_GUNICORN_*`` variables are read by this file only,
the other ``CERTSVC_*`` settings by the app (``certsvc config`` lists those).

Choices, and why:

- **gthread workers**: a verification is CPU work of about a millisecond plus one database
  read; threads let a worker overlap the reads and slow clients (nginx buffers request and
  response bodies anyway). One worker per CPU, 4 threads each, is where the load test
  (``scripts/bench_web.py``) was measured.
- **A listening socket per worker** (``reuse_port``: each worker binds the address with
  ``SO_REUSEPORT`` and the kernel spreads new connections over them). With one shared socket
  a worker takes a connection whenever it can, and a kept-alive connection stays with the
  worker that took it: the connections nginx keeps to the upstream (or a load generator's)
  could all end on one worker while the others idle, halving a 2-worker machine's throughput
  (seen under ``scripts/bench_web.py``: 19 of 20 connections on one worker, the CPU a third
  idle). The worker class (``certsvc/web/gunicorn_worker.py``, gthread otherwise) closes its
  socket as soon as it stops accepting, so that a reload or a restart does not leave new
  connections queued where no one takes them; connections already queued on it are reset
  (nginx answers 502) unless ``net.ipv4.tcp_migrate_req = 1`` (Linux 5.14 and later) moves
  them to the other workers: set it on the web machines. The master binds nothing, so
  ``on_starting`` checks that every address is free and stops with its name if not (a port
  held elsewhere would have had the workers restarted for ever; a second gunicorn of the same
  user would have joined the port). A cap on connections per worker (``worker_connections``)
  balanced too, but left the connections above the cap waiting, some past 5 s.
- **No preload** (``preload_app = False``): each worker builds its own app after the fork.
  ``create_app`` opens a database engine (a connection pool whose sockets must not be shared
  between processes) and starts the verification counter, which adds its counts when its
  process exits; built once in the master, both would be copied into every worker. Each
  worker paying for its own imports costs a few seconds at start, and ``kill -HUP`` (a
  reload) picks up new code. So ``post_worker_init`` has nothing to reset.
- **gc.freeze() once the app is built** (``post_worker_init``): the modules, the app and what
  it loaded live as long as the worker, yet each full collection of Python's garbage
  collector walked them all, with every thread of the worker stopped: about 110 ms, every
  few seconds under load (measured under ``scripts/bench_web.py``). Frozen, they are left out
  of collections, which then took 3 ms at most.
- **forwarded_allow_ips**: only the reverse proxy's address may set ``X-Forwarded-Proto``
  for gunicorn. The client address itself is taken from ``X-Forwarded-For`` by the app
  (``CERTSVC_WEB_PROXY_HOPS=1``), for rate limits and for ``/metrics``.
- **Logs**: every line through certsvc's formatter (``CERTSVC_LOG_FORMAT=json``: one JSON
  object per line) on standard error, which journald keeps. gunicorn's own access log stays
  off: its lines carry the URL path (a ``/v/`` token) and the query string (a holder's name in
  ``GET /api/v1/status``). The access log is the app's line per request (logger
  ``certsvc.web.request``: request id, method, endpoint, status, duration), in the same JSON.
- **Prometheus, multiprocess mode**: with ``CERTSVC_METRICS_ENABLED=true`` the workers write
  their counters to files in ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary folder when it is
  not set; the systemd unit uses its runtime folder), which ``/metrics`` adds up over all
  workers. The folder is emptied when the master starts (files of an earlier master would be
  counted again) and ``child_exit`` tells prometheus_client a worker is gone.
"""

from __future__ import annotations

import gc
import logging
import os
import tempfile
from pathlib import Path
from typing import Any


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _int(name: str, default: int) -> int:
    text = _env(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise SystemExit(f"{name}={text!r} is not a whole number") from None
    if value < 1:
        raise SystemExit(f"{name} must be at least 1, not {value}")
    return value


def _true(name: str) -> bool:
    return _env(name, "false").lower() in ("1", "true", "yes", "on")


# -- processes and sockets ------------------------------------------------------------------

wsgi_app = "certsvc.web:create_app()"
proc_name = "certsvc-web"
# several addresses, comma-separated: e.g. the proxy's 127.0.0.1:8000 and a private address
# the Prometheus server scrapes /metrics on (CERTSVC_METRICS_ALLOW names who may)
bind = [address.strip() for address in _env("CERTSVC_GUNICORN_BIND", "127.0.0.1:8000").split(",")]
worker_class = "certsvc.web.gunicorn_worker.ThreadWorker"  # gthread, see reuse_port below
workers = _int("CERTSVC_GUNICORN_WORKERS", os.cpu_count() or 1)
threads = _int("CERTSVC_GUNICORN_THREADS", 4)
reuse_port = True  # a listening socket per worker: see "A listening socket per worker" above
preload_app = False
forwarded_allow_ips = _env("CERTSVC_GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
timeout = _int("CERTSVC_GUNICORN_TIMEOUT", 30)  # a worker silent this long is restarted
graceful_timeout = 30  # on stop or reload, requests in flight get this long to finish
keepalive = 5  # seconds; behind nginx with keepalive to the upstream
# gunicorn 27's control socket (under $HOME): systemd's signals are the interface here
control_socket_disable = True
# the workers' heartbeat files (made with mkstemp), off a possibly slow disk
SHARED_MEMORY = "/dev/shm"  # noqa: S108
if Path(SHARED_MEMORY).is_dir():
    worker_tmp_dir = SHARED_MEMORY

# -- logs -------------------------------------------------------------------------------------

_LEVEL = _env("CERTSVC_LOG_LEVEL", "INFO").upper()
logging.captureWarnings(True)  # Python's warnings as log lines too (the workers inherit it)
accesslog = None
errorlog = "-"
loglevel = _LEVEL.lower()
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"certsvc": {"()": "certsvc.logs.formatter_from_env"}},
    "handlers": {"certsvc": {"class": "certsvc.logs.StderrHandler", "formatter": "certsvc"}},
    "root": {"level": _LEVEL, "handlers": ["certsvc"]},
    "loggers": {
        "gunicorn.error": {"level": _LEVEL, "handlers": [], "propagate": True},
        "alembic": {"level": "WARNING"},  # its plug-in set-up is not news
        # off: see above (the app writes the access line)
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
}

# -- Prometheus -----------------------------------------------------------------------------

METRICS = _true("CERTSVC_METRICS_ENABLED")
if METRICS and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # set before any worker imports prometheus_client, which reads it once
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="certsvc-prometheus-")


def on_starting(server: Any) -> None:
    from certsvc.web.gunicorn_worker import check_free

    check_free(list(server.cfg.bind))  # before any worker binds: see "A listening socket"
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if METRICS and folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
        server.log.info("metrics: workers count in %s", folder)


def post_worker_init(worker: Any) -> None:
    gc.collect()  # what start-up left behind, before the rest is frozen
    gc.freeze()  # the app is built: see "gc.freeze()" above
    logging.getLogger("gunicorn.error").info("worker %s ready", worker.pid)


def child_exit(server: Any, worker: Any) -> None:
    if METRICS and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
