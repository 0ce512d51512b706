"""Signature timestamps from a timestamp authority under a root of its own: a local TSA
(pyHanko's DummyTimeStamper) served over HTTP on 127.0.0.1, with its CRL, from a thread.

Trusted (its root in CERTSVC_TSA_TRUST_ROOTS): the document carries a timestamp that pyHanko
judges valid, and the TSA's certificate and CRL are in the DSS (B-LT). Untrusted or
unreachable: a clear error naming the setting, and nothing is written."""

from __future__ import annotations

import dataclasses
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from click.testing import Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from certsvc.config import Settings
from certsvc.documents.factory import DocumentFactory
from certsvc.documents.inspect import read_contents
from certsvc.documents.record import sample_record
from certsvc.documents.render import Renderer
from certsvc.documents.tsa import TimestampAuthorityError, load_tsa_roots
from certsvc.errors import ConfigError
from tests.conftest import cli_invoker
from tests.documents.conftest import BASE_URL, Chain, tool

DER = serialization.Encoding.DER


@dataclass
class LocalTsa:
    url: str  # a TSA whose certificate names a CRL distribution point
    url_without_crl: str  # the same root, a certificate without one
    root: x509.Certificate
    certificate: x509.Certificate
    crl_der: bytes
    crl_fetches: list[str]
    stampers: dict[str, DummyTimeStamper]  # by path: what the server answers with

    @property
    def root_der(self) -> bytes:
        return self.root.public_bytes(DER)


class _Handler(BaseHTTPRequestHandler):
    server: _TsaServer

    def do_POST(self) -> None:
        stamper = self.server.stampers.get(self.path)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if stamper is None:
            self.send_error(404)
            return
        answer = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
        self._reply(answer, "application/timestamp-reply")

    def do_GET(self) -> None:
        if self.path != "/tsa-root.crl":
            self.send_error(404)
            return
        self.server.crl_fetches.append(self.path)
        self._reply(self.server.crl, "application/pkix-crl")

    def _reply(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _TsaServer(ThreadingHTTPServer):
    stampers: dict[str, DummyTimeStamper]
    crl: bytes
    crl_fetches: list[str]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _tsa_certificate(
    root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey, crl_url: str | None
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    now = datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # the dummy is RSA-only
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("Test TSA" + (" with CRL" if crl_url else "")))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
    )
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder.sign(root_key, hashes.SHA256()), key


def _stamper(certificate: x509.Certificate, key: rsa.RSAPrivateKey) -> DummyTimeStamper:
    return DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(certificate.public_bytes(DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        ),
    )


@pytest.fixture(scope="module")
def local_tsa() -> Iterator[LocalTsa]:
    server = _TsaServer(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    now = datetime.now(UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("Foreign TSA Root"))
        .issuer_name(_name("Foreign TSA Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    with_crl, with_crl_key = _tsa_certificate(root, root_key, base + "/tsa-root.crl")
    without_crl, without_crl_key = _tsa_certificate(root, root_key, None)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    server.stampers = {
        "/tsa": _stamper(with_crl, with_crl_key),
        "/tsa-no-crl": _stamper(without_crl, without_crl_key),
    }
    server.crl = crl.public_bytes(DER)
    server.crl_fetches = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalTsa(
            base + "/tsa",
            base + "/tsa-no-crl",
            root,
            with_crl,
            server.crl,
            server.crl_fetches,
            server.stampers,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _closed_port_url() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there any more
    return f"http://127.0.0.1:{port}/tsa"


def _dss(pdf: bytes) -> tuple[set[bytes], set[bytes]]:
    dss = PdfFileReader(io.BytesIO(pdf)).root["/DSS"]
    certs = {ref.get_object().data for ref in dss["/Certs"]}
    crls = {ref.get_object().data for ref in dss.get("/CRLs", [])}
    return certs, crls


def test_a_trusted_tsa_gives_a_valid_timestamp_and_b_lt(
    renderer: Renderer, chain: Chain, local_tsa: LocalTsa, nss_db: str, tmp_path: Path
) -> None:
    material = dataclasses.replace(
        chain.material(), tsa_url=local_tsa.url, tsa_roots=(local_tsa.root_der,)
    )
    factory = DocumentFactory(renderer, material, base_url=BASE_URL)
    try:
        issued = [
            factory.make(sample_record(document_number=f"2025-110000-GC2-00000{i}-{i}"))
            for i in (1, 2)
        ]
        assert factory.level.startswith("PAdES B-LT")
    finally:
        factory.close()
    assert local_tsa.crl_fetches  # the TSA's revocation data was fetched, not made up

    for document in issued:
        reader = PdfFileReader(io.BytesIO(document.pdf))
        (signature,) = reader.embedded_signatures
        status = validate_pdf_signature(
            signature,
            ValidationContext(
                trust_roots=[asn1_x509.Certificate.load(chain.root.public_bytes(DER))],
                crls=[asn1_crl.CertificateList.load(chain.crl_der)],
                allow_fetching=False,
            ),
            ts_validation_context=ValidationContext(
                trust_roots=[asn1_x509.Certificate.load(local_tsa.root_der)],
                allow_fetching=False,
            ),
        )
        assert status.bottom_line, status.pretty_print_details()
        assert status.coverage.name == "ENTIRE_FILE" and status.modification_level.name == "NONE"
        assert status.timestamp_validity is not None
        assert status.timestamp_validity.intact and status.timestamp_validity.valid
        assert status.timestamp_validity.trusted
        certs, crls = _dss(document.pdf)
        assert local_tsa.certificate.public_bytes(DER) in certs
        assert chain.signer.public_bytes(DER) in certs and local_tsa.root_der in certs
        assert crls == {chain.crl_der, local_tsa.crl_der}
        assert read_contents(document.pdf).record == document.record

        path = tmp_path / f"{document.record.document_number}.pdf"
        path.write_bytes(document.pdf)
        assert "Total document signed" in tool("pdfsig", "-nssdir", nss_db, path).stdout
        assert "No syntax or stream encoding errors" in tool("qpdf", "--check", path).stdout


def test_a_tsa_without_revocation_data_is_reported_as_b_t(
    renderer: Renderer, chain: Chain, local_tsa: LocalTsa
) -> None:
    material = dataclasses.replace(
        chain.material(), tsa_url=local_tsa.url_without_crl, tsa_roots=(local_tsa.root_der,)
    )
    factory = DocumentFactory(renderer, material, base_url=BASE_URL)
    try:
        issued = factory.make(sample_record())
        level = factory.level
    finally:
        factory.close()
    assert "B-T" in level and "B-LT" not in level
    certs, _ = _dss(issued.pdf)
    assert local_tsa.root_der in certs  # the chain is there all the same


def test_a_token_from_a_certificate_not_validated_at_start_is_refused(
    renderer: Renderer, chain: Chain, local_tsa: LocalTsa
) -> None:
    material = dataclasses.replace(
        chain.material(), tsa_url=local_tsa.url, tsa_roots=(local_tsa.root_der,)
    )
    factory = DocumentFactory(renderer, material, base_url=BASE_URL)
    validated = local_tsa.stampers["/tsa"]
    local_tsa.stampers["/tsa"] = local_tsa.stampers["/tsa-no-crl"]  # the TSA rolls its key over
    try:
        with pytest.raises(TimestampAuthorityError, match="other than the one validated"):
            factory.make(sample_record())
    finally:
        local_tsa.stampers["/tsa"] = validated
        factory.close()


def test_an_untrusted_tsa_is_refused_naming_the_setting(
    renderer: Renderer, chain: Chain, local_tsa: LocalTsa
) -> None:
    # no TSA roots: only the bureau root is trusted, and the TSA is not under it
    material = dataclasses.replace(chain.material(), tsa_url=local_tsa.url)
    with pytest.raises(TimestampAuthorityError, match="CERTSVC_TSA_TRUST_ROOTS") as caught:
        DocumentFactory(renderer, material, base_url=BASE_URL)
    assert "cannot be trusted" in str(caught.value)


def test_an_unreachable_tsa_is_refused_naming_the_setting(
    renderer: Renderer, chain: Chain, local_tsa: LocalTsa
) -> None:
    material = dataclasses.replace(
        chain.material(), tsa_url=_closed_port_url(), tsa_roots=(local_tsa.root_der,)
    )
    with pytest.raises(TimestampAuthorityError, match="CERTSVC_TSA_URL"):
        DocumentFactory(renderer, material, base_url=BASE_URL)


def test_tsa_roots_must_be_a_pem_bundle(tmp_path: Path, local_tsa: LocalTsa) -> None:
    bundle = tmp_path / "tsa-roots.pem"
    bundle.write_bytes(local_tsa.root.public_bytes(serialization.Encoding.PEM))
    assert load_tsa_roots(bundle) == (local_tsa.root_der,)
    bundle.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"CERTSVC_TSA_TRUST_ROOTS=.*not a PEM bundle"):
        load_tsa_roots(bundle)
    with pytest.raises(ConfigError, match=r"CERTSVC_TSA_TRUST_ROOTS=.*cannot read"):
        load_tsa_roots(tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match="CERTSVC_TSA_URL is not"):
        Settings.from_env({}, tsa_trust_roots=bundle)


ROOT_PASS = "root passphrase for tsa tests"
SIGNER_PASS = "signer passphrase for tsa tests"


def _cli(tmp_path: Path, database_url: str, environment: dict[str, str]) -> Callable[..., Result]:
    return cli_invoker(
        tmp_path,
        database_url,
        actor="clerk",
        secrets={"ROOT_PASS": ROOT_PASS, "SIGNER_PASS": SIGNER_PASS},
        environment=environment,
    )


def test_document_sign_with_a_tsa_from_the_command_line(
    tmp_path: Path, database_url: str, local_tsa: LocalTsa
) -> None:
    bundle = tmp_path / "tsa-roots.pem"
    bundle.write_bytes(local_tsa.root.public_bytes(serialization.Encoding.PEM))
    untrusted = _cli(tmp_path, database_url, {"CERTSVC_TSA_URL": local_tsa.url})
    untrusted("init")
    untrusted("keys", "init-root", "--root-passphrase-env", "ROOT_PASS")
    untrusted(
        "keys",
        "issue-signer",
        "--passphrase-env",
        "SIGNER_PASS",
        "--root-passphrase-env",
        "ROOT_PASS",
    )
    untrusted("keys", "publish-crl", "--root-passphrase-env", "ROOT_PASS")
    out = tmp_path / "certificate.pdf"
    sign = ("document", "sign", "--out", str(out), "--passphrase-env", "SIGNER_PASS")
    refused = untrusted(*sign, code=2)
    assert "CERTSVC_TSA_TRUST_ROOTS" in refused.output
    assert not out.exists()

    trusted = _cli(
        tmp_path,
        database_url,
        {"CERTSVC_TSA_URL": local_tsa.url, "CERTSVC_TSA_TRUST_ROOTS": str(bundle)},
    )
    assert "PAdES B-LT" in trusted(*sign).output
    certs, _ = _dss(out.read_bytes())
    assert local_tsa.certificate.public_bytes(DER) in certs
