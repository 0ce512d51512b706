"""Gathering what signing needs from the key store and the database, once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from certsvc.agencies.service import get_agency
from certsvc.config import Settings
from certsvc.documents.fonts import FontPaths, find_default_fonts
from certsvc.documents.render import Renderer
from certsvc.documents.sign import SigningMaterial
from certsvc.documents.tsa import load_tsa_roots
from certsvc.errors import KeyStoreError
from certsvc.keys import service as keys
from certsvc.keys.certificates import load_pem
from certsvc.keys.files import Passphrase
from certsvc.keys.models import PublicationKind, SigningKey


@dataclass(frozen=True)
class SignerSpec:
    """The public half of signing material, read from the database: picklable, so a batch
    hands it to worker processes, which open the private key themselves."""

    signer: SigningKey
    root_pem: str
    crl_der: bytes
    crl_number: int
    crl_next_update: datetime
    agency_code: str
    agency_name: str
    tsa_url: str = ""
    tsa_trust_roots: Path | None = None  # CERTSVC_TSA_TRUST_ROOTS: the TSA must chain to one


def read_signer_spec(
    session: Session,
    *,
    agency_code: str,
    at: datetime,
    tsa_url: str = "",
    tsa_trust_roots: Path | None = None,
) -> SignerSpec:
    """The agency's current signer with its root and the newest CRL, or a ``KeyStoreError``
    saying why it may not sign at ``at`` (no signer, no CRL, CRL expired)."""
    agency = get_agency(session, agency_code)
    signer = keys.signer_for(session, agency.code, at)
    root = keys.current_root(session)
    crl = keys.latest_publication(session, PublicationKind.CRL)
    if crl is None:
        raise KeyStoreError(
            "no CRL has been published yet; run `certsvc keys publish-crl` "
            "so that signatures can carry their revocation information"
        )
    if crl.next_update <= at:
        raise KeyStoreError(
            f"the newest CRL (number {crl.number}) expired on "
            f"{crl.next_update:%Y-%m-%d}; run `certsvc keys publish-crl`"
        )
    return SignerSpec(
        signer=signer.model_copy(),
        root_pem=root.certificate_pem,
        crl_der=crl.content,
        crl_number=crl.number,
        crl_next_update=crl.next_update,
        agency_code=agency.code,
        agency_name=agency.name,
        tsa_url=tsa_url,
        tsa_trust_roots=tsa_trust_roots,
    )


def open_signing_material(
    spec: SignerSpec, store: keys.KeyStore, *, at: datetime, passphrase: Passphrase | None
) -> SigningMaterial:
    """Open the signer's private key (file or HSM) and assemble the material for signing."""
    handle = keys.open_signer(store, spec.signer, at=at, passphrase=passphrase)
    return SigningMaterial(
        handle=handle,
        key_id=spec.signer.key_id,
        certificate=load_pem(spec.signer.certificate_pem),
        root=load_pem(spec.root_pem),
        crls=(spec.crl_der,),
        tsa_url=spec.tsa_url or None,
        tsa_roots=load_tsa_roots(spec.tsa_trust_roots) if spec.tsa_trust_roots else (),
        signer_name=spec.agency_name,
        location=spec.agency_name,
        agency_code=spec.agency_code,
    )


def load_signing_material(
    session: Session,
    store: keys.KeyStore,
    *,
    agency_code: str,
    at: datetime,
    passphrase: Passphrase | None,
    tsa_url: str = "",
    tsa_trust_roots: Path | None = None,
) -> SigningMaterial:
    """The agency's current signer, opened, with its chain and the newest CRL; with a TSA,
    the roots its certificate must chain to (``CERTSVC_TSA_TRUST_ROOTS``)."""
    spec = read_signer_spec(
        session, agency_code=agency_code, at=at, tsa_url=tsa_url, tsa_trust_roots=tsa_trust_roots
    )
    return open_signing_material(spec, store, at=at, passphrase=passphrase)


def renderer_for(settings: Settings) -> Renderer:
    """The renderer with the configured fonts and layouts (the defaults when unset)."""
    return Renderer.create(font_paths_for(settings), settings.template_dir)


def font_paths_for(settings: Settings) -> FontPaths | None:
    if settings.font_file is None and not settings.fallback_font_files:
        return None
    default = find_default_fonts()
    main = settings.font_file or default.main.path
    fallbacks = [Path(p) for p in settings.fallback_font_files.split(os.pathsep) if p] or [
        f.path for f in default.fallbacks
    ]
    return FontPaths.of(main, *fallbacks)
