"""``certsvc keys``: the bureau root, document signers, rotation, revocation, publication."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rich.table import Table

from certsvc.cli.context import CliContext
from certsvc.errors import ConfigError, InputError
from certsvc.keys import service
from certsvc.keys.files import Passphrase
from certsvc.keys.handles import KeyAlgorithm
from certsvc.keys.models import KeyBackend, RevocationReason, TrustPublication

pass_ctx = click.make_pass_decorator(CliContext)
ROOT_DAYS = click.IntRange(1, service.ROOT_MAX_DAYS)
SIGNER_DAYS = click.IntRange(1, service.SIGNER_MAX_DAYS)
NEXT_UPDATE_DAYS = click.IntRange(1, service.NEXT_UPDATE_MAX_DAYS)


def _passphrase(env_var: str | None, file: Path | None, *, what: str, confirm: bool) -> Passphrase:
    if env_var or file:
        return Passphrase.from_sources(env_var=env_var, file=file)
    if not sys.stdin.isatty():
        raise ConfigError(
            f"no {what} passphrase: there is no terminal to ask on; pass "
            f"--{what}-passphrase-env VARIABLE or --{what}-passphrase-file PATH"
        )
    text = click.prompt(f"{what} key passphrase", hide_input=True, confirmation_prompt=confirm)
    return Passphrase.checked(text, "the prompt")


def root_passphrase_options(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option(
        "--root-passphrase-file",
        type=click.Path(path_type=Path),
        help="Read the root key passphrase from this file.",
    )(func)
    return click.option(
        "--root-passphrase-env",
        metavar="VARIABLE",
        help="Read the root key passphrase from this environment variable.",
    )(func)


def _date(text: str | None) -> datetime | None:
    """An ISO date or time as an instant in UTC; without a zone it is taken to be UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date or time (YYYY-MM-DD[THH:MM[+HH:MM]])"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@click.group()
def keys() -> None:
    """The bureau root and the agencies' document signers."""


@keys.command("init-root")
@click.option("--organization", default=None, help="Bureau name (default: the agency name).")
@click.option(
    "--days", type=ROOT_DAYS, default=20 * 365, show_default=True, help="Validity in days."
)
@root_passphrase_options
@pass_ctx
def init_root(
    ctx: CliContext,
    organization: str | None,
    days: int,
    root_passphrase_env: str | None,
    root_passphrase_file: Path | None,
) -> None:
    """Create the bureau root: key (encrypted, keep it offline) and self-signed certificate."""
    passphrase = _passphrase(root_passphrase_env, root_passphrase_file, what="root", confirm=True)
    with ctx.migrated_db().session() as session:
        root = service.create_root(
            session,
            ctx.keystore,
            organization=organization or ctx.settings.agency_name,
            passphrase=passphrase,
            actor=ctx.actor,
            now=ctx.now(),
            days=days,
        )
    click.echo(f"root created: {root.subject}")
    click.echo(
        f"  key:         {ctx.keystore.path(service.ROOT_KEY_FILE)} (encrypted; move it "
        "offline after issuing the signers)"
    )
    click.echo(f"  certificate: {ctx.keystore.path(service.ROOT_CERT_FILE)}")
    click.echo(f"  SHA-256 fingerprint (what verifiers pin): {root.fingerprint}")


@keys.command("issue-signer")
@click.option(
    "--agency", "agency_code", default=None, help="Agency code (default: CERTSVC_AGENCY_CODE)."
)
@click.option(
    "--algorithm",
    type=click.Choice([a.value for a in KeyAlgorithm]),
    default=KeyAlgorithm.ECDSA_P256.value,
    show_default=True,
)
@click.option(
    "--backend",
    type=click.Choice([b.value for b in KeyBackend]),
    default=KeyBackend.FILE.value,
    show_default=True,
    help="file: encrypted key in the key folder; pkcs11: generated in the HSM.",
)
@click.option(
    "--days", type=SIGNER_DAYS, default=3 * 365, show_default=True, help="Certificate validity."
)
@click.option(
    "--active-from",
    default=None,
    help="When it takes over from the agency's current signer (default: now; not in the "
    "past). Without a time zone: UTC.",
)
@click.option("--passphrase-env", metavar="VARIABLE", help="Signer key passphrase variable.")
@click.option("--passphrase-file", type=click.Path(path_type=Path))
@root_passphrase_options
@pass_ctx
def issue_signer(
    ctx: CliContext,
    agency_code: str | None,
    algorithm: str,
    backend: str,
    days: int,
    active_from: str | None,
    passphrase_env: str | None,
    passphrase_file: Path | None,
    root_passphrase_env: str | None,
    root_passphrase_file: Path | None,
) -> None:
    """Issue a document signer for an agency; it supersedes the current one from --active-from."""
    root_pass = _passphrase(root_passphrase_env, root_passphrase_file, what="root", confirm=False)
    key_backend = KeyBackend(backend)
    signer_pass = None
    if key_backend is KeyBackend.FILE:
        signer_pass = _passphrase(passphrase_env, passphrase_file, what="signer", confirm=True)
    with ctx.migrated_db().session() as session:
        root = service.load_root(session, ctx.keystore, root_pass)
        signer = service.issue_signer(
            session,
            ctx.keystore,
            root,
            agency_code=agency_code or ctx.settings.agency_code,
            actor=ctx.actor,
            now=ctx.now(),
            backend=key_backend,
            passphrase=signer_pass,
            algorithm=KeyAlgorithm(algorithm),
            days=days,
            active_from=_date(active_from),
        )
    click.echo(
        f"signer {signer.key_id} issued ({signer.algorithm.value}, {signer.backend.value}"
        f"), valid {signer.not_before:%Y-%m-%d} to {signer.not_after:%Y-%m-%d}, "
        f"signs from {signer.active_from:%Y-%m-%d %H:%M} UTC"
    )
    click.echo("publish the change: `certsvc keys export-trust`")


@keys.command("list")
@pass_ctx
def list_keys(ctx: CliContext) -> None:
    """The root and every signer with its status."""
    from sqlmodel import col, select

    from certsvc.agencies.models import Agency
    from certsvc.keys.models import SigningKey

    now = ctx.now()
    with ctx.migrated_db().session() as session:
        root = service.current_root(session)
        agencies = {a.id: a.code for a in session.exec(select(Agency))}
        signers = session.exec(select(SigningKey).order_by(col(SigningKey.id))).all()
    click.echo(f"root {root.fingerprint} valid to {root.not_after:%Y-%m-%d}")
    table = Table("key id", "agency", "algorithm", "backend", "valid", "signs from", "state")
    for signer in signers:
        refusal = service.signing_refusal(signer, now)
        table.add_row(
            signer.key_id,
            agencies.get(signer.agency_id, "?"),
            signer.algorithm.value,
            signer.backend.value,
            f"{signer.not_before:%Y-%m-%d}–{signer.not_after:%Y-%m-%d}",
            f"{signer.active_from:%Y-%m-%d}",
            refusal or "signing",
        )
    ctx.console.print(table)


@keys.command("retire")
@click.argument("key_id")
@pass_ctx
def retire(ctx: CliContext, key_id: str) -> None:
    """Stop a signer from signing; what it signed stays verifiable."""
    with ctx.migrated_db().session() as session:
        signer = service.retire_signer(session, key_id=key_id, actor=ctx.actor, now=ctx.now())
    click.echo(f"signer {signer.key_id} retired; publish with `certsvc keys export-trust`")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--reason", type=click.Choice([r.value for r in RevocationReason]), required=True)
@click.option(
    "--at",
    "revoked_at",
    default=None,
    help="When the key stopped being trustworthy (default: now). Without a time zone: UTC.",
)
@root_passphrase_options
@pass_ctx
def revoke(
    ctx: CliContext,
    key_id: str,
    reason: str,
    revoked_at: str | None,
    root_passphrase_env: str | None,
    root_passphrase_file: Path | None,
) -> None:
    """Revoke a signer (e.g. key compromise) and publish a new CRL signed by the root."""
    root_pass = _passphrase(root_passphrase_env, root_passphrase_file, what="root", confirm=False)
    now = ctx.now()
    with ctx.migrated_db().session() as session:
        root = service.load_root(session, ctx.keystore, root_pass)
        signer, crl = service.revoke_signer(
            session,
            ctx.keystore,
            root,
            key_id=key_id,
            reason=RevocationReason(reason),
            revoked_at=_date(revoked_at) or now,
            actor=ctx.actor,
            now=now,
        )
    click.echo(
        f"signer {signer.key_id} revoked from {signer.revoked_at:%Y-%m-%d %H:%M} UTC; "
        f"CRL number {crl.number} published"
    )


@keys.command("publish-crl")
@click.option("--next-update-days", type=NEXT_UPDATE_DAYS, default=30, show_default=True)
@root_passphrase_options
@pass_ctx
def publish_crl(
    ctx: CliContext,
    next_update_days: int,
    root_passphrase_env: str | None,
    root_passphrase_file: Path | None,
) -> None:
    """Publish a fresh CRL (before the last one's next update)."""
    root_pass = _passphrase(root_passphrase_env, root_passphrase_file, what="root", confirm=False)
    with ctx.migrated_db().session() as session:
        root = service.load_root(session, ctx.keystore, root_pass)
        crl = service.publish_crl(
            session, root, actor=ctx.actor, now=ctx.now(), next_update_days=next_update_days
        )
    click.echo(f"CRL number {crl.number} published, next update {crl.next_update:%Y-%m-%d}")


@keys.command("export-trust")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the files (default: DATA_DIR/trust).",
)
@click.option("--next-update-days", type=NEXT_UPDATE_DAYS, default=30, show_default=True)
@root_passphrase_options
@pass_ctx
def export_trust(
    ctx: CliContext,
    out_dir: Path | None,
    next_update_days: int,
    root_passphrase_env: str | None,
    root_passphrase_file: Path | None,
) -> None:
    """Sign and publish the trust list (JSON as a JWS, and a PEM bundle) with a fresh CRL."""
    root_pass = _passphrase(root_passphrase_env, root_passphrase_file, what="root", confirm=False)
    folder = out_dir or ctx.settings.data_dir / "trust"
    # The files are written to a folder inside the target before the publication commits (so a
    # folder that cannot be written to publishes nothing), and moved into place after.
    staging: Path | None = None
    try:
        with ctx.migrated_db().session() as session:
            root = service.load_root(session, ctx.keystore, root_pass)
            now = ctx.now()
            crl = service.publish_crl(
                session, root, actor=ctx.actor, now=now, next_update_days=next_update_days
            )
            published = service.publish_trust_list(
                session, root, actor=ctx.actor, now=now, next_update_days=next_update_days
            )
            files = _trust_files(published, crl, service.trust_bundle_pem(session), root)
            staging = _stage(folder, files)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        for name in files:
            os.replace(staging / name, folder / name)
        staging.rmdir()
    except OSError as exc:
        raise InputError(
            f"trust list {published.number} and CRL {crl.number} are published, but moving "
            f"the files into {folder} failed ({exc.strerror or exc}); they are in {staging}"
        ) from None
    click.echo(
        f"trust list {published.number} and CRL {crl.number} written to {folder}; "
        f"root fingerprint {root.row.fingerprint}"
    )


def _trust_files(
    published: TrustPublication, crl: TrustPublication, bundle: str, root: service.LoadedRoot
) -> dict[str, bytes]:
    payload = published.content.split(b".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    crl_pem = x509.load_der_x509_crl(crl.content).public_bytes(serialization.Encoding.PEM)
    return {
        "trust-list.jws": published.content,
        "trust-list.json": (json.dumps(decoded, ensure_ascii=False, indent=2) + "\n").encode(),
        "trust-bundle.pem": bundle.encode("ascii"),
        "root.pem": root.row.certificate_pem.encode("ascii"),
        "crl.der": crl.content,
        "crl.pem": crl_pem,
    }


def _stage(folder: Path, files: dict[str, bytes]) -> Path:
    """``files`` written to a new folder inside ``folder``; ``InputError`` if that fails."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-trust-", dir=folder))
    except OSError as exc:
        raise InputError(
            f"cannot write the trust files to {folder}: {exc.strerror or exc}; "
            "nothing was published"
        ) from None
    try:
        for name, content in files.items():
            (staging / name).write_bytes(content)
            os.chmod(staging / name, 0o644)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(
            f"cannot write the trust files to {folder}: {exc.strerror or exc}; "
            "nothing was published"
        ) from None
    return staging


def register(group: click.Group) -> None:
    group.add_command(keys)
