"""The holders' pages: sign-in with a one-time code, "my documents" (preview, status,
download) and share links for employers.

Blueprints ``holder_auth`` (:mod:`.auth`), ``holder_documents`` (:mod:`.documents`) and
``holder_shares`` (:mod:`.shares`), registered by :func:`certsvc.web.holder.setup.init_holder`
only when ``CERTSVC_SECRET_KEY`` is set. Every route that names a document reaches it through
:func:`certsvc.web.holder.access.get_holder_document`, which answers 404 for another holder's
document exactly as for one that does not exist.

This package imports no Flask at import time (the schema imports :mod:`.models`).
"""
