"""A batch run's node_exporter textfile: what it says follows what the run did."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.db.types import utcnow
from certsvc.issuance.metrics import TEXTFILE_NAME, BatchMetrics
from certsvc.issuance.models import BatchItem
from certsvc.issuance.runner import run_batch
from certsvc.issuance.worker import CandidateOutcome, MadeDocument
from certsvc.roster.models import Person, ReviewResult
from tests.issuance.conftest import World, build_world
from tests.issuance.test_lifecycle import TOO_LONG_WORK_UNIT
from tests.operations.test_deploy import ROOT


@pytest.fixture
def world(settings: Settings, db: Database) -> World:
    return build_world(settings, db, rows=10)


@pytest.fixture
def small_world(settings: Settings, db: Database) -> World:
    return build_world(settings, db, rows=4)


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample in the file by name and labels."""
    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_a_run_writes_its_candidates_documents_and_signing_times(
    world: World, tmp_path: Path
) -> None:
    folder = tmp_path / "textfile"
    folder.mkdir()
    world.settings = dataclasses.replace(world.settings, metrics_textfile_dir=folder)
    batch_id = world.approved_batch()
    with world.db.session() as session:
        items = session.exec(
            select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(col(BatchItem.id))
        ).all()
        person = session.get(Person, items[1].person_id)
        result = session.get(ReviewResult, items[3].result_id)
        assert person is not None and result is not None
        person.work_unit = TOO_LONG_WORK_UNIT  # fails: it does not fit the page
        result.withdrawn_at = utcnow()  # skipped: the result no longer stands
        result.withdrawn_reason = "复核"
        session.add_all([person, result])
    report = run_batch(world.db, world.settings, world.ctx.keystore, batch_id, world.options())

    found = samples(folder / TEXTFILE_NAME)
    batch = ("batch", str(batch_id))
    issued = report.issued
    assert issued == len(items) - 2
    assert found[("certsvc_batch_candidates", (batch, ("outcome", "issued")))] == issued
    assert found[("certsvc_batch_candidates", (batch, ("outcome", "failed")))] == 1
    assert found[("certsvc_batch_candidates", (batch, ("outcome", "skipped")))] == 1
    assert found[("certsvc_batch_documents_signed", (batch,))] == 2 * issued
    assert found[("certsvc_batch_document_sign_seconds_count", (batch,))] == 2 * issued
    assert found[("certsvc_batch_document_sign_seconds_sum", (batch,))] > 0
    assert found[("certsvc_batch_run", (batch,))] == 1
    assert found[("certsvc_batch_running", (batch,))] == 0
    assert found[("certsvc_batch_stopped_with_error", (batch,))] == 0
    assert found[("certsvc_batch_duration_seconds", (batch,))] > 0
    success = found[("certsvc_batch_last_success_timestamp_seconds", (batch,))]
    assert success >= found[("certsvc_batch_last_progress_timestamp_seconds", (batch,))] - 1
    assert not [p for p in folder.iterdir() if p.name != TEXTFILE_NAME]  # no temporary left


def test_a_run_stopped_by_an_error_says_so_and_can_be_rerun(
    small_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = small_world
    world.settings = dataclasses.replace(world.settings, metrics_textfile_dir=tmp_path)
    batch_id = world.approved_batch()

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("certsvc.issuance.runner.record_outcomes", crash)
    with pytest.raises(RuntimeError):
        run_batch(world.db, world.settings, world.ctx.keystore, batch_id, world.options())
    found = samples(tmp_path / TEXTFILE_NAME)
    batch = ("batch", str(batch_id))
    assert found[("certsvc_batch_stopped_with_error", (batch,))] == 1
    assert found[("certsvc_batch_running", (batch,))] == 0
    assert found[("certsvc_batch_candidates", (batch, ("outcome", "issued")))] == 0
    assert ("certsvc_batch_last_success_timestamp_seconds", (batch,)) not in found

    monkeypatch.undo()
    run_batch(world.db, world.settings, world.ctx.keystore, batch_id, world.options())
    found = samples(tmp_path / TEXTFILE_NAME)
    assert found[("certsvc_batch_run", (batch,))] == 2
    assert found[("certsvc_batch_stopped_with_error", (batch,))] == 0
    assert found[("certsvc_batch_candidates", (batch, ("outcome", "issued")))] > 0


def test_signing_times_fall_in_their_buckets_and_a_folder_that_cannot_be_written_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = BatchMetrics(7, tmp_path / "missing" / TEXTFILE_NAME)

    class Run:  # what BatchMetrics reads of a RunState
        number, candidates_done, failed, skipped, started = 1, 1, 0, 0, 0.0

    metrics.begin(Run())  # type: ignore[arg-type]
    made = MadeDocument(1, "s", "00" * 32, 10, "1", "k")
    metrics.recorded(
        [
            CandidateOutcome(1, made=(made, made), timings_ms={"sign": 6.0}),  # 3 ms each
            CandidateOutcome(2, made=(made,), timings_ms={"sign": 300.0}),
            CandidateOutcome(3, error="too long"),
        ]
    )
    buckets = dict(metrics.sign.cumulative())
    assert buckets["0.002"] == 0 and buckets["0.005"] == 2
    assert buckets["0.25"] == 2 and buckets["0.5"] == 3 and buckets["+Inf"] == 3
    assert metrics.documents_signed == 3
    assert metrics.sign.total == pytest.approx(0.306)
    assert "batch metrics not written" in caplog.text


def test_the_command_line_logs_in_json_with_its_command_and_actor(
    small_world: World, tmp_path: Path
) -> None:
    """``certsvc batch run`` as operators start it, with JSON logs and a textfile folder it
    cannot write: the run completes, and the warning is one JSON line naming the command."""
    world = small_world
    batch_id = world.approved_batch()
    settings = world.settings
    passphrase_file = settings.data_dir / "demo" / "signer.pass"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CERTSVC_DATA_DIR": str(settings.data_dir),
        "CERTSVC_KEY_DIR": str(settings.key_dir),
        "CERTSVC_DATABASE_URL": settings.sqlalchemy_url,
        "CERTSVC_LOG_FORMAT": "json",
        "CERTSVC_METRICS_TEXTFILE_DIR": str(tmp_path / "missing"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "certsvc", "--actor", "ops", "batch", "run", str(batch_id),
         "--workers", "0", "--passphrase-file", str(passphrase_file), "--no-notify"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (warning,) = [line for line in lines if line["logger"] == "certsvc.issuance.metrics"]
    assert warning["level"] == "warning" and "batch metrics not written" in warning["message"]
    assert warning["command"] == "certsvc batch run" and warning["actor"] == "cli:ops"
    assert passphrase_file.read_text().strip() not in done.stderr + done.stdout
