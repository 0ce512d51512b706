"""Killing a real batch process (SIGKILL) at points spread over its run, then running it again.

Each round starts ``certsvc batch run`` with two worker processes and kills it once the
registry shows it has got a little further than the round before (or, every third round, at
once, while it is still starting). Odd rounds kill the whole process group; even rounds kill
only the coordinator, whose workers must die with it (checked through /proc). A final run
finishes the batch, and the invariants are checked against the database, the store and the
log.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import func, select

from certsvc.issuance.models import BatchItem
from tests.issuance.conftest import SIGNER, World, build_world
from tests.issuance.invariants import assert_issued_exactly_once, issued_items

KILL_ROUNDS = 12
POLL_SECONDS = 0.01
ROUND_TIMEOUT_SECONDS = 120


@pytest.fixture
def big_world(settings, db) -> World:  # type: ignore[no-untyped-def]
    return build_world(settings, db, rows=160, seed=11)


def _start_run(world: World, batch_id: int, log: Path) -> subprocess.Popen[bytes]:
    settings = world.settings
    env = {
        **os.environ,
        "CERTSVC_DATA_DIR": str(settings.data_dir),
        "CERTSVC_DATABASE_URL": settings.sqlalchemy_url,
        "CERTSVC_KEY_DIR": str(settings.key_dir),
        "CERTSVC_ACTOR": SIGNER.removeprefix("test:"),
    }
    command = [
        sys.executable,
        "-c",
        "from certsvc.cli import main; main()",
        "batch",
        "run",
        str(batch_id),
        "--workers",
        "2",
        "--passphrase-file",
        str(settings.data_dir / "demo" / "signer.pass"),
    ]
    return subprocess.Popen(
        command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _children(pid: int) -> set[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def _wait_until_gone(pids: set[int], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if Path(f"/proc/{pid}").exists() and not _zombie(pid)}
        time.sleep(0.05)
    assert not alive, f"worker processes {sorted(alive)} outlived their killed coordinator"


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_killed_runs_resume_to_exactly_one_current_document_each(
    big_world: World, tmp_path: Path
) -> None:
    world = big_world
    batch_id = world.approved_batch()
    with world.db.session() as session:
        total = session.exec(select(func.count()).where(BatchItem.batch_id == batch_id)).one()
    rng = random.Random(20251122)  # noqa: S311 - reproducible kill points, not secrets
    log = tmp_path / "runs.log"
    kills = []
    for round_number in range(KILL_ROUNDS):
        before = issued_items(world, batch_id)
        if before >= total:
            break
        process = _start_run(world, batch_id, log)
        if round_number % 3 == 2:
            time.sleep(rng.uniform(0.05, 1.5))  # while it starts: lock, recovery, workers
        else:
            target = before + rng.randint(1, max(2, total // KILL_ROUNDS))
            deadline = time.monotonic() + ROUND_TIMEOUT_SECONDS
            while issued_items(world, batch_id) < target and process.poll() is None:
                assert time.monotonic() < deadline, "the run made no progress"
                time.sleep(POLL_SECONDS)
        if process.poll() is not None:
            break  # finished before the kill
        workers = _children(process.pid)
        if round_number % 2:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            os.kill(process.pid, signal.SIGKILL)  # its workers must die with it
        process.wait()
        _wait_until_gone(workers)
        kills.append(issued_items(world, batch_id))
    final = _start_run(world, batch_id, log)
    assert final.wait(timeout=600) == 0, log.read_text(errors="replace")[-3000:]

    assert len(kills) >= 10, f"only {len(kills)} kills landed: {kills}"
    assert len(set(kills)) >= 5, f"kill points not spread over the run: {kills}"
    time.sleep(0.5)  # a worker of the last killed run that was still exiting
    assert_issued_exactly_once(world, batch_id, total)
