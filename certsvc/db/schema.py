"""Every table certsvc owns, gathered in one ``MetaData`` for Alembic and the tests.

Each domain keeps its tables in its own ``models.py``; importing them here registers them.
"""

from __future__ import annotations

import certsvc.agencies.models
import certsvc.audit.models
import certsvc.issuance.models
import certsvc.jobs.models
import certsvc.keys.models
import certsvc.notifications.models
import certsvc.publicity.models
import certsvc.revocation.models
import certsvc.roster.models
import certsvc.staff.models
import certsvc.transparency.models
import certsvc.web.holder.models
import certsvc.web.models  # noqa: F401
from certsvc.db.base import SQLModel

metadata = SQLModel.metadata
