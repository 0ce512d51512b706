"""What every interrupted batch run must end with, checked the same way by the crash tests of
the local pool and of the Celery workers."""

from __future__ import annotations

from sqlmodel import col, func, select

from certsvc.issuance.checks import check_batch, check_store
from certsvc.issuance.models import BatchItem, Document, DocumentStatus, ItemState
from certsvc.transparency.service import trust_from_database, verify_log
from tests.issuance.conftest import World


def issued_items(world: World, batch_id: int) -> int:
    """How many of the batch's candidates are issued so far."""
    with world.db.session() as session:
        return session.exec(
            select(func.count()).where(
                BatchItem.batch_id == batch_id, BatchItem.state == ItemState.ISSUED
            )
        ).one()


def assert_issued_exactly_once(world: World, batch_id: int, total: int) -> None:
    """Database, store and log agree; each of the ``total`` candidates has one certificate and
    one notice; no reserved number was wasted (a killed run re-signs under the numbers it
    reserved)."""
    with world.db.session() as session:
        assert check_batch(session, world.store, batch_id) == []
        assert check_store(session, world.store) == []
        log = verify_log(session, trust_from_database(session))
        assert log.ok, log.report()
        assert log.entries == 2 * total
        issued = session.exec(
            select(func.count()).where(
                Document.batch_id == batch_id, Document.status == DocumentStatus.ISSUED
            )
        ).one()
        void = session.exec(
            select(func.count()).where(col(Document.status) == DocumentStatus.VOID)
        ).one()
    assert issued == 2 * total
    assert void == 0
