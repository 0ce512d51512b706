"""``certsvc log``: verify the transparency log, show its latest signed tree head, prove that a
document's entries are in it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click
from cryptography import x509

from certsvc.cli.context import CliContext
from certsvc.errors import InputError, NotFoundError
from certsvc.transparency import service
from certsvc.transparency.checkpoint import LogError
from certsvc.transparency.models import TreeHead

pass_ctx = click.make_pass_decorator(CliContext)


def _head_dict(head: TreeHead) -> dict[str, Any]:
    return {
        "id": head.id,
        "origin": head.origin,
        "tree_size": head.tree_size,
        "root_hash": bytes(head.root_hash).hex(),
        "signed_at": head.signed_at.isoformat().replace("+00:00", "Z"),
        "key_id": head.key_id,
        "batch_ref": head.batch_ref,
        "envelope": base64.b64encode(bytes(head.envelope)).decode("ascii"),
    }


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _read_bundle(path: Path) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read the trust bundle {path}: {exc.strerror}") from None
    except ValueError:
        raise InputError(f"{path} is not a PEM file of certificates") from None
    return certificates


@click.group("log")
def log() -> None:
    """The transparency log of issued, revoked and reissued documents."""


@log.command("verify")
@click.option(
    "--trust-bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Check signatures with the signer certificates in this PEM file (as published by "
    "`certsvc keys export-trust`) instead of those in the database.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def verify(ctx: CliContext, trust_bundle: Path | None, as_json: bool) -> None:
    """Check every entry, stored hash, tree head signature, and the consistency of
    successive tree heads. Exits 8 if anything is wrong."""
    with ctx.migrated_db().session() as session:
        if trust_bundle is not None:
            trust = service.trust_from_certificates(_read_bundle(trust_bundle))
        else:
            trust = service.trust_from_database(session)
        result = service.verify_log(session, trust)
    if as_json:
        _echo_json(
            {
                "ok": result.ok,
                "entries": result.entries,
                "tree_heads": result.tree_heads,
                "stored_nodes": result.stored_nodes,
                "problems": result.problems,
            }
        )
    else:
        click.echo(result.report())
    if not result.ok:
        raise LogError(
            f"the transparency log failed verification ({len(result.problems)} problems)"
        )


@log.command("head")
@click.option("--json", "as_json", is_flag=True, help="Print the tree head as JSON.")
@pass_ctx
def head(ctx: CliContext, as_json: bool) -> None:
    """The latest signed tree head."""
    with ctx.migrated_db().session() as session:
        latest = service.latest_tree_head(session)
    if latest is None:
        raise NotFoundError("the transparency log has no signed tree head yet")
    if as_json:
        _echo_json(_head_dict(latest))
        return
    click.echo(f"tree head {latest.id} of {latest.origin}")
    click.echo(f"  tree size:  {latest.tree_size}")
    click.echo(f"  root hash:  {bytes(latest.root_hash).hex()}")
    click.echo(f"  signed at:  {latest.signed_at:%Y-%m-%d %H:%M:%S} UTC by key {latest.key_id}")
    if latest.batch_ref:
        click.echo(f"  batch:      {latest.batch_ref}")
    click.echo(f"  envelope:   {base64.b64encode(bytes(latest.envelope)).decode('ascii')}")


@log.command("proof")
@click.argument("document_number")
@pass_ctx
def proof(ctx: CliContext, document_number: str) -> None:
    """Inclusion proofs (JSON) of a document's log entries in the latest signed tree head."""
    with ctx.migrated_db().session() as session:
        entries = service.entries_for_document(session, document_number)
        if not entries:
            raise NotFoundError(f"the transparency log has no entry for document {document_number}")
        latest = service.latest_tree_head(session)
        if latest is None or latest.tree_size <= entries[0].leaf_index:
            raise NotFoundError(
                f"document {document_number} is logged (entry {entries[0].leaf_index}) but no "
                "signed tree head covers it yet"
            )
        covered = [entry for entry in entries if entry.leaf_index < latest.tree_size]
        proofs = service.inclusion_proofs(
            session, [entry.leaf_index for entry in covered], latest.tree_size
        )
    _echo_json(
        {
            "document_number": document_number,
            "tree_head": _head_dict(latest),
            "entries": [
                {
                    "kind": entry.kind.value,
                    "entry": bytes(entry.entry).decode("utf-8"),
                    **inclusion.as_dict(),
                }
                for entry, inclusion in zip(covered, proofs, strict=True)
            ],
            "not_yet_covered": [entry.leaf_index for entry in entries[len(covered) :]],
        }
    )


def register(group: click.Group) -> None:
    group.add_command(log)
