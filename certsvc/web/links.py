"""The links every public page carries (the stylesheet, the home page, the menu), built once.

``url_for`` costs about as much as the rest of a small page, and the header and menu call it
five times on every page, the QR landing page included. These links depend only on the
application's mount point (``SCRIPT_NAME``), so they are built once for each mount point seen
and kept; a link whose view is not registered (the holder pages when they are off) is left
out, and the template leaves its menu entry out with it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from flask import Flask, request, url_for

PAGE_LINKS: Mapping[str, tuple[str, str | None]] = {  # name: (endpoint, static file)
    "stylesheet": ("static", "site.css"),
    "home": ("pages.index", None),
    "verify": ("pages.upload", None),
    "lookup": ("lookup.lookup_page", None),
    "api": ("api.openapi", None),
    "holder": ("holder_documents.documents", None),
}
_MOUNT_POINTS = 8  # a deployment has one; a few more are tolerated, never an unbounded cache


class PageLinks:
    def __init__(self, app: Flask) -> None:
        self._app = app
        self._built: dict[str, Mapping[str, str]] = {}
        self._lock = threading.Lock()

    def current(self) -> Mapping[str, str]:
        """The links for this request's mount point."""
        root = request.script_root
        found = self._built.get(root)
        if found is None:
            found = {
                name: url_for(endpoint, filename=file) if file else url_for(endpoint)
                for name, (endpoint, file) in PAGE_LINKS.items()
                if endpoint in self._app.view_functions
            }
            with self._lock:
                if len(self._built) < _MOUNT_POINTS:
                    self._built[root] = found
        return found
