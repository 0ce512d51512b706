"""Gathering what signing needs from the key store and the database, once per process."""

from __future__ import annotations

import os
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
from certsvc.keys.models import PublicationKind


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
    agency = get_agency(session, agency_code)
    signer = keys.signer_for(session, agency.code, at)
    handle = keys.open_signer(store, signer, at=at, passphrase=passphrase)
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
    return SigningMaterial(
        handle=handle,
        key_id=signer.key_id,
        certificate=load_pem(signer.certificate_pem),
        root=load_pem(root.certificate_pem),
        crls=(crl.content,),
        tsa_url=tsa_url or None,
        tsa_roots=load_tsa_roots(tsa_trust_roots) if tsa_trust_roots else (),
        signer_name=agency.name,
        location=agency.name,
        agency_code=agency.code,
    )


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
