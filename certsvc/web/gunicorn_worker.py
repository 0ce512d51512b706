"""gunicorn's gthread worker for ``reuse_port`` (see ``deploy/gunicorn.conf.py``).

With ``reuse_port`` each worker has its own listening socket and the kernel hashes new
connections over them. gunicorn's worker keeps its socket open while it drains on a stop or a
reload (up to ``graceful_timeout``), so the kernel goes on handing it new connections that no
one will accept, reset when the socket closes at last. This worker closes its listening
sockets as soon as it stops accepting, so that new connections go to the workers that stay
(with ``net.ipv4.tcp_migrate_req = 1`` those already queued on it move over too).
"""

from __future__ import annotations

import socket
from typing import Any

from gunicorn.util import parse_address
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker


class ThreadWorker(GunicornThreadWorker):  # type: ignore[misc]
    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive and self.cfg.reuse_port:
            for listener in self.sockets:
                listener.close()  # leaves the port's group: new connections go elsewhere


def check_free(bind: list[str]) -> None:
    """``SystemExit`` naming the address when a TCP address of ``bind`` is taken.

    With ``reuse_port`` the master binds nothing and each worker binds after it starts: a port
    held by another program made every worker fail and be restarted for ever, and a second
    gunicorn of the same user joined the first one's port and took a share of its traffic.
    Checked once, when the master starts, by binding without ``SO_REUSEPORT``."""
    for address in bind:
        parsed: Any = parse_address(address)
        if not isinstance(parsed, tuple):  # a Unix socket or an inherited descriptor
            continue
        host, port = parsed
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise SystemExit(
                    f"cannot listen on {address} (CERTSVC_GUNICORN_BIND): {exc.strerror}; "
                    "another program, or another gunicorn, holds it"
                ) from None
