"""``certsvc document render|sign|inspect``: single documents, for previews and checks."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from certsvc.cli.context import CliContext
from certsvc.documents.factory import DocumentFactory
from certsvc.documents.inspect import read_contents
from certsvc.documents.material import load_signing_material, renderer_for
from certsvc.documents.record import DocumentRecord, DocumentType, sample_record
from certsvc.documents.token import TokenError, decode_token, qr_matrix, read_unverified
from certsvc.errors import InputError
from certsvc.keys.files import Passphrase

pass_ctx = click.make_pass_decorator(CliContext)
TYPE = click.Choice([t.value for t in DocumentType])


def _record(path: Path | None, kind: str) -> DocumentRecord:
    if path is None:
        return sample_record(document_type=DocumentType(kind))
    try:
        return DocumentRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a certsvc record: {exc}") from None


def record_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--record FILE (default: a sample record) and --type for it."""
    func = click.option("--type", "kind", type=TYPE, default="certificate", show_default=True)(func)
    return click.option(
        "--record",
        "record_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="A record (certsvc-record JSON); default: a sample.",
    )(func)


@click.group("document")
def document() -> None:
    """Single documents: preview a layout, sign one, look inside one."""


@document.command("render")
@record_options
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@pass_ctx
def render(ctx: CliContext, record_path: Path | None, kind: str, out: Path) -> None:
    """Render an UNSIGNED preview (the QR points at the verification page) to check a layout."""
    record = _record(record_path, kind)
    renderer = renderer_for(ctx.settings)
    verify_page = ctx.settings.public_base_url.rstrip("/") + "/verify"
    matrix, _ = qr_matrix(verify_page)
    out.write_bytes(renderer.render(record, qr_matrix=matrix, verify_url=verify_page))
    click.echo(f"unsigned preview of {record.document_type.heading} written to {out}")


@document.command("sign")
@record_options
@click.option("--agency", "agency_code", default=None)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--passphrase-env", metavar="VARIABLE", help="Signer key passphrase variable.")
@click.option("--passphrase-file", type=click.Path(path_type=Path))
@pass_ctx
def sign(
    ctx: CliContext,
    record_path: Path | None,
    kind: str,
    agency_code: str | None,
    out: Path,
    passphrase_env: str | None,
    passphrase_file: Path | None,
) -> None:
    """Render and sign one document with the agency's current signer (not registered)."""
    record = _record(record_path, kind)
    now = ctx.now()
    with ctx.migrated_db().session() as session:
        passphrase = (
            Passphrase.from_sources(env_var=passphrase_env, file=passphrase_file)
            if passphrase_env or passphrase_file
            else None
        )
        material = load_signing_material(
            session,
            ctx.keystore,
            agency_code=agency_code or ctx.settings.agency_code,
            at=now,
            passphrase=passphrase,
            tsa_url=ctx.settings.tsa_url,
            tsa_trust_roots=ctx.settings.tsa_trust_roots,
        )
    factory = DocumentFactory(
        renderer_for(ctx.settings), material, base_url=ctx.settings.public_base_url
    )
    try:
        issued = factory.make(record)
    finally:
        factory.close()
    out.write_bytes(issued.pdf)
    click.echo(
        f"{record.document_type.heading} {record.document_number} signed by "
        f"{material.key_id}: {out} ({len(issued.pdf)} bytes, QR version "
        f"{issued.qr_version}, sha256 {issued.sha256}); {factory.level}"
    )


@document.command("inspect")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--show-personal-data",
    is_flag=True,
    help="Also print the holder's identity number (hidden by default).",
)
@pass_ctx
def inspect(ctx: CliContext, file: Path, as_json: bool, show_personal_data: bool) -> None:
    """Show a document's attached record, QR token and signature, without judging them."""
    contents = read_contents(file.read_bytes())
    attached = contents.record
    record = None if attached is None else attached.as_dict()
    if record is not None and not show_personal_data:
        record["holder"]["id_number"] = "(hidden; --show-personal-data prints it)"
    token: dict[str, Any] | None = None
    if contents.token is not None:
        try:
            key_id, claims = read_unverified(decode_token(contents.token))
            token = {
                "key_id": key_id,
                "claims": {k: str(v) for k, v in dataclasses.asdict(claims).items()},
            }
        except TokenError as exc:
            token = {"error": str(exc)}
    report = {
        "file": str(file),
        "revisions": contents.revisions,
        "record": record,
        "token": token,
        "signatures": [dataclasses.asdict(s) for s in contents.signatures],
        "attachments": sorted(contents.attachments),
    }
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return
    for signature in contents.signatures:
        click.echo(
            f"signature {signature.field_name}: {signature.signer_subject}; signed "
            f"{signature.signing_time}; covers whole file: {signature.covers_whole_file};"
            f" certified: {signature.certified}"
        )
    click.echo(f"attachments: {', '.join(sorted(contents.attachments)) or '(none)'}")
    click.echo("record: " + json.dumps(record, ensure_ascii=False, indent=2))
    click.echo("token (unverified): " + json.dumps(token, ensure_ascii=False, default=str))


def register(group: click.Group) -> None:
    group.add_command(document)
