"""The timestamp authority (RFC 3161): trusted, checked and documented once per process.

With ``CERTSVC_TSA_URL`` set, every signature carries a signature timestamp (PAdES B-T). For
the document to validate after the signer and the TSA certificates expire, the TSA's chain and
its revocation data must be in the document's DSS as well (B-LT). Before the first document,
:func:`prepare_timestamp_authority` asks the TSA for a token, validates the TSA certificate up
to a root of ``CERTSVC_TSA_TRUST_ROOTS`` (a PEM bundle; the bureau root when unset), fetching
its CRLs or OCSP responses — fetching is allowed for the TSA only, the signer's own material
is supplied — and returns what goes into every DSS. An unreachable or untrusted TSA is a
:class:`TimestampAuthorityError` naming the setting to fix, before anything is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms as asn1_cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, ValidationError
from pyhanko_certvalidator.path import ValidationPath

from certsvc.errors import ConfigError

URL_SETTING = "CERTSVC_TSA_URL"
ROOTS_SETTING = "CERTSVC_TSA_TRUST_ROOTS"


class TimestampAuthorityError(ConfigError):
    """The TSA cannot be reached, or its certificate cannot be trusted."""


@dataclass(frozen=True)
class TsaEvidence:
    """The TSA's validated chain (leaf first, root last) and the revocation data fetched for
    it, to be embedded in every document's DSS."""

    certificates: tuple[asn1_x509.Certificate, ...]
    crls: tuple[asn1_crl.CertificateList, ...]
    ocsps: tuple[asn1_ocsp.OCSPResponse, ...]
    # every certificate below the root has a CRL or an OCSP response: the TSA side is B-LT
    revocation_complete: bool

    def covers(self, token: asn1_cms.ContentInfo) -> bool:
        """Whether ``token`` (a TimeStampToken) was signed by the validated TSA certificate."""
        sid = token["content"]["signer_infos"][0]["sid"]
        if sid.name != "issuer_and_serial_number":
            key_id = sid.chosen.native
            return any(c.key_identifier == key_id for c in self.certificates)
        issuer_serial = sid.chosen
        return any(
            c.issuer == issuer_serial["issuer"]
            and c.serial_number == issuer_serial["serial_number"].native
            for c in self.certificates
        )


def load_tsa_roots(path: Path) -> tuple[bytes, ...]:
    """The certificates (DER) of the PEM bundle ``CERTSVC_TSA_TRUST_ROOTS`` points at."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{ROOTS_SETTING}={path}: cannot read it ({exc.strerror})") from exc
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError(
            f"{ROOTS_SETTING}={path} is not a PEM bundle of certificates ({exc})"
        ) from exc
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certificates)


def prepare_timestamp_authority(
    timestamper: TimeStamper, roots: Sequence[bytes], *, url: str | None
) -> TsaEvidence:
    """Ask the TSA for a token, validate its certificate against ``roots`` (DER), fetch its
    revocation data; :class:`TimestampAuthorityError` if it cannot be reached or trusted."""
    where = f"the timestamp authority at {url}" if url else "the timestamp authority"
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(der) for der in roots],
        allow_fetching=True,
        revocation_mode="soft-fail",  # revocation data when the TSA publishes any
    )
    try:
        paths = asyncio.run(_validation_paths(timestamper, context))
    except TimestampRequestError as exc:
        raise TimestampAuthorityError(
            f"{where} cannot be reached or did not answer with a timestamp ({exc}); "
            f"check {URL_SETTING}"
        ) from exc
    except (PathBuildingError, PathValidationError, ValidationError) as exc:
        raise TimestampAuthorityError(
            f"{where} signs with a certificate that cannot be trusted ({exc}); add its root "
            f"certificate to the PEM bundle named by {ROOTS_SETTING}"
            + ("" if roots else " (unset: only the bureau root is trusted)")
        ) from exc
    if not paths:
        raise TimestampAuthorityError(f"{where} sent no certificate with its timestamp")
    certificates: dict[bytes, asn1_x509.Certificate] = {}
    for path in paths:
        for cert in reversed(list(path)):  # leaf first
            certificates.setdefault(cert.dump(), cert)
    crls, ocsps = tuple(context.crls), tuple(context.ocsps)
    return TsaEvidence(
        certificates=tuple(certificates.values()),
        crls=crls,
        ocsps=ocsps,
        revocation_complete=all(
            _has_revocation_data(cert, crls, ocsps)
            for path in paths
            for cert in list(path)[1:]  # the root is trusted as it is
        ),
    )


async def _validation_paths(
    timestamper: TimeStamper, context: ValidationContext
) -> list[ValidationPath]:
    try:
        paths = timestamper.validation_paths(context)  # type: ignore[no-untyped-call]
        return [path async for path in paths]
    finally:
        await context.aclose()  # type: ignore[no-untyped-call]  # the fetchers' HTTP session, on the loop that opened it


def _has_revocation_data(
    cert: asn1_x509.Certificate,
    crls: Sequence[asn1_crl.CertificateList],
    ocsps: Sequence[asn1_ocsp.OCSPResponse],
) -> bool:
    if any(crl["tbs_cert_list"]["issuer"] == cert.issuer for crl in crls):
        return True
    for response in ocsps:
        basic = response["response_bytes"]["response"].parsed
        for single in basic["tbs_response_data"]["responses"]:
            if single["cert_id"]["serial_number"].native == cert.serial_number:
                return True
    return False
