"""The PAdES signature: the agency's document signer over the whole PDF, certified.

``DocumentSigner`` is prepared once per process (or batch): the pyHanko signer around our key
handle (a key file or an HSM key), the validation context with the root and the CRL, the
signature metadata and the seal appearance. ``sign`` then, for each document, attaches the
canonical record as an associated file and signs in the same incremental write:

* PAdES baseline B-B by default; B-T when a timestamp authority URL is configured;
* validation material (the chain and the CRL) embedded in the DSS — B-LT — so the signature
  still validates after the signer certificate expires;
* certified with DocMDP "no changes", so any later change is detectable;
* the seal as the visible signature appearance.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
from dataclasses import dataclass

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from asn1crypto.algos import SignedDigestAlgorithm
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    PdfTBSDocument,
    SigDSSPlacementPreference,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from certsvc.documents.prepared import (
    CmsTemplate,
    PreparedAppearance,
    RawObject,
    run_without_io,
    stream_object,
    write_dss,
)
from certsvc.documents.record import RECORD_FILENAME, TOKEN_FILENAME, DocumentRecord
from certsvc.documents.tsa import TimestampAuthorityError, TsaEvidence, prepare_timestamp_authority
from certsvc.keys.handles import KeyAlgorithm, PrivateKeyHandle

FIELD_NAME = "Signature1"


class _OfflineByDesign(logging.Filter):
    """pyHanko warns on every signature that fetching is off; it is off on purpose (the root
    and the CRL are supplied), so that one message is dropped and all others are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_OfflineByDesign())
DIGEST = {
    KeyAlgorithm.ECDSA_P256: "sha256",
    KeyAlgorithm.ECDSA_P384: "sha384",
    KeyAlgorithm.RSA_3072: "sha256",
}
MECHANISM = {
    KeyAlgorithm.ECDSA_P256: "sha256_ecdsa",
    KeyAlgorithm.ECDSA_P384: "sha384_ecdsa",
    KeyAlgorithm.RSA_3072: "sha256_rsa",
}
PLACEHOLDER_SIGNATURE = {
    KeyAlgorithm.ECDSA_P256: 72,
    KeyAlgorithm.ECDSA_P384: 104,
    KeyAlgorithm.RSA_3072: 384,
}


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


class _HandleSigner(signers.Signer):
    """pyHanko's view of a :class:`PrivateKeyHandle`: the CMS is built by pyHanko, only the
    raw signature comes from the handle (so the key may stay in an HSM)."""

    def __init__(
        self, handle: PrivateKeyHandle, certificate: x509.Certificate, root: x509.Certificate
    ) -> None:
        super().__init__(
            signing_cert=_asn1_certificate(certificate),
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [_asn1_certificate(root), _asn1_certificate(certificate)]
            ),
            signature_mechanism=SignedDigestAlgorithm({"algorithm": MECHANISM[handle.algorithm]}),
        )
        self._handle = handle

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if digest_algorithm != DIGEST[self._handle.algorithm]:
            raise ValueError(
                f"{self._handle.algorithm} signs with {DIGEST[self._handle.algorithm]}"
                f", not {digest_algorithm}"
            )
        if dry_run:
            return bytes(PLACEHOLDER_SIGNATURE[self._handle.algorithm])
        return self._handle.sign(data)


@dataclass(frozen=True)
class SigningMaterial:
    """Everything a signature needs that does not change from one document to the next."""

    handle: PrivateKeyHandle
    key_id: str
    certificate: x509.Certificate
    root: x509.Certificate
    crls: tuple[bytes, ...] = ()  # DER CRLs to embed for long-term validation
    tsa_url: str | None = None
    # a ready timestamper instead of tsa_url (tests use pyHanko's in-process TSA)
    timestamper: timestamps.TimeStamper | None = None
    # DER roots the TSA's certificate must chain to (CERTSVC_TSA_TRUST_ROOTS); none: the root
    tsa_roots: tuple[bytes, ...] = ()
    signer_name: str = ""  # the agency's name: the signature's /Name and the seal's rim
    location: str = ""
    agency_code: str = ""  # records of another agency are refused

    def close(self) -> None:
        """Release what the key holds open (an HSM session and its login; a key file holds
        nothing): a long-lived process — the signer, a batch coordinator — opens a key per job."""
        close = getattr(self.handle, "close", None)
        if callable(close):
            close()


class DocumentSigner:
    """Signs rendered documents; build it once and reuse it for every document."""

    def __init__(
        self,
        material: SigningMaterial,
        *,
        seal_appearance: bytes,
        seal_box: tuple[int, int, int, int],
        fast: bool = True,
    ) -> None:
        self.material = material
        self._signer = _HandleSigner(material.handle, material.certificate, material.root)
        context = ValidationContext(
            trust_roots=[_asn1_certificate(material.root)],
            other_certs=[_asn1_certificate(material.certificate)],
            crls=[asn1_crl.CertificateList.load(der) for der in material.crls],
            allow_fetching=False,
            revocation_mode="soft-fail",
        )
        self._meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            md_algorithm=DIGEST[material.handle.algorithm],
            subfilter=SigSeedSubFilter.PADES,
            certify=True,
            docmdp_permissions=MDPPerm.NO_CHANGES,
            embed_validation_info=True,
            validation_context=context,
            name=material.signer_name or None,
            location=material.location or None,
            reason="电子职称文书签发",
            # the DSS goes into the signed revision itself, so that the signature covers the
            # whole file (pdfsig: "Total document signed") and nothing follows it
            dss_settings=DSSContentSettings(
                placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
                include_vri=False,
            ),
        )
        self._timestamper = material.timestamper or (
            timestamps.HTTPTimeStamper(material.tsa_url) if material.tsa_url else None
        )
        # The seal appearance is a finished form XObject, written as it is into each document.
        self._stamp = PreparedAppearance(appearance=seal_appearance)
        self._field = fields.SigFieldSpec(FIELD_NAME, on_page=0, box=seal_box)
        self._bytes_reserved: int | None = None
        self.fast = fast
        self._template: CmsTemplate | None = None
        self._dss_certs = [
            stream_object(_asn1_certificate(material.certificate).dump()),
            stream_object(_asn1_certificate(material.root).dump()),
        ]
        self._dss_crls = [stream_object(der) for der in material.crls]
        self._dss_ocsps: list[RawObject] = []
        self._tsa: TsaEvidence | None = None
        if self._timestamper is not None:
            self._tsa = prepare_timestamp_authority(
                self._timestamper,
                material.tsa_roots or (material.root.public_bytes(serialization.Encoding.DER),),
                url=material.tsa_url,
            )
            known = {_asn1_certificate(c).dump() for c in (material.certificate, material.root)}
            self._dss_certs += [
                stream_object(c.dump()) for c in self._tsa.certificates if c.dump() not in known
            ]
            self._dss_crls += [stream_object(c.dump()) for c in self._tsa.crls]
            self._dss_ocsps += [stream_object(o.dump()) for o in self._tsa.ocsps]
        # The prepared chain and CRL go into the DSS directly; the signer and its CRL were
        # checked when the material was loaded (load_signing_material), not per document.
        self._meta_prepared_dss = dataclasses.replace(
            self._meta, embed_validation_info=False, validation_context=None
        )

    @property
    def level(self) -> str:
        """What a validator will find. Without a TSA there is no trusted signing time, so the
        document validates only while the signer certificate is valid (B-B, with the chain and
        CRL already in the DSS); with a TSA it is B-T, and B-LT when the TSA's chain came with
        revocation data (CRL or OCSP) for every certificate below its root."""
        if self._tsa is None:
            return "PAdES B-B (chain and CRL in the DSS)"
        if self._tsa.revocation_complete:
            return "PAdES B-LT (signer and TSA chains with their revocation data in the DSS)"
        return (
            "PAdES B-T (signer chain and CRL in the DSS; the TSA chain too, but the TSA "
            "published no revocation data for it)"
        )

    def sign(self, unsigned_pdf: bytes, record: DocumentRecord, token_text: str) -> bytes:
        """Attach the record and the token, and sign: one incremental update."""
        writer = IncrementalPdfFileWriter(io.BytesIO(unsigned_pdf))
        _attach(
            writer,
            RECORD_FILENAME,
            record.canonical_json(),
            "application/json",
            "certsvc canonical record (RFC 8785 JSON) of this document",
        )
        _attach(
            writer,
            TOKEN_FILENAME,
            token_text.encode("ascii"),
            "text/plain",
            "certsvc QR token (COSE_Sign1, decimal) as printed in the QR code",
        )
        if self._tsa is not None:
            return self._sign_with_timestamp(writer, self._tsa)
        if not self.fast:
            return self._sign_with_pyhanko(writer)
        if self._template is None:  # pyHanko builds the first container with asyncio tasks
            return asyncio.run(self._sign_with_template(writer))
        return run_without_io(self._sign_with_template(writer))

    def _sign_with_pyhanko(self, writer: IncrementalPdfFileWriter) -> bytes:
        """pyHanko builds everything, validating the chain per document: the reference."""
        pdf_signer = signers.PdfSigner(
            self._meta, self._signer, stamp_style=self._stamp, new_field_spec=self._field
        )
        out = pdf_signer.sign_pdf(writer, bytes_reserved=self._reserve(), in_place=False)
        assert isinstance(out, io.BytesIO)
        return out.getvalue()

    def _sign_with_timestamp(self, writer: IncrementalPdfFileWriter, tsa: TsaEvidence) -> bytes:
        """pyHanko signs and asks the TSA for the signature timestamp; the DSS holds the
        signer's and the TSA's chains and revocation data, validated when the signer was
        prepared. A token from a TSA certificate that was not validated then is refused."""
        write_dss(writer, self._dss_certs, self._dss_crls, self._dss_ocsps)
        pdf_signer = signers.PdfSigner(
            self._meta_prepared_dss,
            self._signer,
            timestamper=self._timestamper,
            stamp_style=self._stamp,
            new_field_spec=self._field,
        )
        out = pdf_signer.sign_pdf(writer, bytes_reserved=self._reserve(), in_place=False)
        assert isinstance(out, io.BytesIO)
        signed = out.getvalue()
        (signature,) = PdfFileReader(io.BytesIO(signed)).embedded_signatures
        tokens = [
            attr["values"][0]
            for attr in signature.signer_info["unsigned_attrs"]
            if attr["type"].native == "signature_time_stamp_token"
        ]
        if len(tokens) != 1 or not tsa.covers(tokens[0]):
            raise TimestampAuthorityError(
                "the timestamp authority signed with a certificate other than the one "
                "validated when signing started (a key rollover?); start again so that the "
                "new certificate is validated and documented"
            )
        return signed

    async def _sign_with_template(self, writer: IncrementalPdfFileWriter) -> bytes:
        """The same signature, faster: the DSS is written from the prepared chain and CRL
        instead of re-validating them, and the CMS container is pyHanko's own, built once
        and reused with only the message digest and the signature value replaced."""
        write_dss(writer, self._dss_certs, self._dss_crls)
        pdf_signer = signers.PdfSigner(
            self._meta_prepared_dss,
            self._signer,
            stamp_style=self._stamp,
            new_field_spec=self._field,
        )
        prepared, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
            writer, bytes_reserved=self._reserve()
        )
        if self._template is None:
            self._template = CmsTemplate(
                await self._signer.async_sign(
                    prepared.document_digest, self._meta.md_algorithm or "sha256", use_pades=True
                )
            )
        cms = self._template.fill(prepared.document_digest, self.material.handle)
        await PdfTBSDocument.async_finish_signing(output, prepared, cms)
        assert isinstance(output, io.BytesIO)
        return output.getvalue()

    def _reserve(self) -> int:
        # A fixed reservation avoids pyHanko's size estimate (a second signing pass). It is
        # counted in hex digits, two per byte of CMS: the signer and root certificates and the
        # signed attributes take about 2 KiB, an RSA signature 384 bytes, a timestamp token
        # with its TSA chain a few KiB. The CRL is in the DSS, not in the CMS.
        if self._bytes_reserved is None:
            self._bytes_reserved = 2 * (6144 + (8192 if self._timestamper else 0))
        return self._bytes_reserved

    def close(self) -> None:
        """Nothing is held open any more; kept so that callers can release a signer."""


def _attach(
    writer: IncrementalPdfFileWriter, name: str, data: bytes, mime_type: str, description: str
) -> None:
    stream = embed.EmbeddedFileObject.from_file_data(
        writer, data, mime_type=mime_type, params=embed.EmbeddedFileParams(embed_size=True)
    )
    embed.embed_file(
        writer,
        embed.FileSpec(
            file_spec_string=name,
            file_name=name,
            embedded_data=stream,
            description=description,
            af_relationship=generic.NameObject("/Data"),
        ),
    )
