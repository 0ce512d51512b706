"""Parts of a PAdES signature prepared once per process and reused for every document.

* :class:`RawObject`: an indirect object serialised once (a certificate or CRL stream for the
  DSS, the seal appearance), which pyHanko's writer copies as it is;
* :class:`PreparedAppearance`: a pyHanko stamp style whose appearance is such an object;
* :class:`CmsTemplate`: the CMS SignedData pyHanko built for the first document, refilled
  with each next document's digest and signature;
* :func:`run_without_io`: drives pyHanko's async signing API without an event loop.

Everything here is checked in the test suite against pyHanko's own output and three
validators (pyHanko, poppler's pdfsig, qpdf).
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import IO, Any

from asn1crypto import cms as asn1_cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.stamp import BaseStamp, BaseStampStyle

from certsvc.keys.handles import PrivateKeyHandle


class RawObject(generic.PdfObject):
    """An indirect object whose body was serialised once (a stream or a dictionary referring
    to no other object): pyHanko writes its bytes as they are."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def write_to_stream(
        self, stream: IO[bytes], handler: Any = None, container_ref: Any = None
    ) -> None:
        stream.write(self.body)


def stream_object(data: bytes) -> RawObject:
    return RawObject(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data))


def write_dss(
    writer: IncrementalPdfFileWriter,
    certs: Sequence[RawObject],
    crls: Sequence[RawObject],
    ocsps: Sequence[RawObject] = (),
) -> None:
    """The document security store as pyHanko's ``supply_dss_in_writer`` writes it for a
    document without one (no VRI), from certificate, CRL and OCSP streams serialised once."""
    entries = {"/Certs": certs, "/CRLs": crls, "/OCSPs": ocsps}
    dss = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {
            generic.NameObject(key): generic.ArrayObject([writer.add_object(v) for v in values])
            for key, values in entries.items()
            if values
        }
    )
    writer.root[generic.NameObject("/DSS")] = writer.add_object(dss)
    writer.update_root()  # type: ignore[no-untyped-call]


class _SealStamp(BaseStamp):
    """The prepared appearance, added to the writer once per document."""

    def __init__(self, writer: Any, style: PreparedAppearance) -> None:
        super().__init__(writer, style)
        self._body = style.appearance

    def register(self) -> generic.IndirectObject:
        if self._content_xobj_ref is None:
            self._content_xobj_ref = self._ensure_writer.add_object(RawObject(self._body))
        return self._content_xobj_ref


@dataclass(frozen=True)
class PreparedAppearance(BaseStampStyle):
    """A stamp style whose appearance is a finished form XObject (see
    :func:`certsvc.documents.seal.seal_appearance`): nothing is imported or laid out per
    document, pyHanko just writes the prepared bytes as the widget's normal appearance."""

    appearance: bytes = b""

    def create_stamp(self, writer: Any, box: Any, text_params: dict[str, Any]) -> BaseStamp:
        return _SealStamp(writer, self)


def run_without_io(coroutine: Coroutine[Any, Any, bytes]) -> bytes:
    """Run a coroutine that never waits on anything without an event loop, which would cost
    about a third of the rest of the signature. pyHanko's signing API is async, but once the
    CMS container is a template and there is no timestamp authority, nothing in it awaits."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: bytes = done.value
        return result
    coroutine.close()
    raise RuntimeError("signing without a timestamp authority unexpectedly waited for I/O")


class CmsTemplate:
    """A CMS SignedData as pyHanko built it, reused for the next documents.

    Between two documents of one signer only two values differ: the messageDigest signed
    attribute (the PDF's byte-range digest) and the signature over the signed attributes.
    Everything else — certificates, algorithm identifiers, the ESS signing-certificate-v2
    attribute, CMS algorithm protection — is identical, so its DER is cut out once and
    spliced around the new values; only the five enclosing lengths are written anew (an
    ECDSA signature's DER length varies by a byte or two). The test suite checks the result
    against pyHanko's own container and all three validators.
    """

    def __init__(self, content_info: asn1_cms.ContentInfo) -> None:
        der = content_info.dump()
        parsed = asn1_cms.ContentInfo.load(der)
        signed_data = parsed["content"]
        signer_infos = signed_data["signer_infos"]
        if len(signer_infos) != 1:
            raise ValueError("expected exactly one SignerInfo")
        signer_info = signer_infos[0]
        attrs = signer_info["signed_attrs"]
        if any(attr["type"].native == "signing_time" for attr in attrs):
            raise ValueError("a per-document signing-time attribute cannot be templated")
        digest = next(a for a in attrs if a["type"].native == "message_digest")["values"][0]
        # SignerInfo: header | before attrs | [0] signed attrs | between | signature | after
        info = signer_info.contents
        attrs_tlv = attrs.dump()
        signature_tlv = signer_info["signature"].dump()
        at = _unique(info, attrs_tlv, "signed attributes")
        sig_at = _unique(info, signature_tlv, "signature")
        self._before_attrs = info[:at]
        self._between = info[at + len(attrs_tlv) : sig_at]
        self._after = info[sig_at + len(signature_tlv) :]
        digest_tlv = digest.dump()
        self._digest_at = _unique(attrs_tlv, digest_tlv, "message digest") + 2
        self._digest_len = len(digest.native)
        self._attrs = bytearray(attrs_tlv)
        # SignedData: everything before signerInfos (its last field) stays as it is
        sd_contents = signed_data.contents
        self._signed_data_head = sd_contents[: len(sd_contents) - len(signer_infos.dump())]
        self._content_type = parsed["content_type"].dump()

    def fill(self, digest: bytes, handle: PrivateKeyHandle) -> bytes:
        if len(digest) != self._digest_len:
            raise ValueError("digest length differs from the template's")
        self._attrs[self._digest_at : self._digest_at + self._digest_len] = digest
        attrs = bytes(self._attrs)
        signature = handle.sign(b"\x31" + attrs[1:])  # signed as SET OF, stored [0] IMPLICIT
        info = _tlv(
            0x30, self._before_attrs + attrs + self._between + _tlv(0x04, signature) + self._after
        )
        signed_data = _tlv(0x30, self._signed_data_head + _tlv(0x31, info))
        return _tlv(0x30, self._content_type + _tlv(0xA0, signed_data))


def _unique(haystack: bytes, needle: bytes, what: str) -> int:
    at = haystack.find(needle)
    if at < 0 or haystack.find(needle, at + 1) >= 0:
        raise ValueError(f"cannot locate the {what} in the CMS template")
    return at


def _tlv(tag: int, value: bytes) -> bytes:
    """A DER tag-length-value with a definite length."""
    size = len(value)
    if size < 0x80:
        return bytes((tag, size)) + value
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + value
