"""PKCS#11 keys against a SoftHSM2 token made for the test session (see conftest.py)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pkcs11
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive

from certsvc.errors import ConfigError, KeyStoreError
from certsvc.keys.handles import KeyAlgorithm, PrivateKeyHandle
from certsvc.keys.pkcs11 import (
    Pkcs11Config,
    Pkcs11KeyRef,
    Pkcs11PrivateKey,
    delete_key,
    generate_key,
    open_key,
)

from .conftest import OTHER_TOKEN, TOKEN, USER_PIN, SoftHsm

pytestmark = pytest.mark.pkcs11

DATA = "电子职称证书 No. 2025-0001".encode()
WRONG_PIN = "314159"


def unique_label(prefix: str = "signer") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def verify_ec(hash_algorithm: hashes.HashAlgorithm) -> Callable[..., None]:
    def verify(public_key: CertificatePublicKeyTypes, signature: bytes, data: bytes) -> None:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        public_key.verify(signature, data, ec.ECDSA(hash_algorithm))

    return verify


def verify_rsa(public_key: CertificatePublicKeyTypes, signature: bytes, data: bytes) -> None:
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def describe(public_key: CertificatePublicKeyTypes) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"ec:{public_key.curve.name}"
    assert isinstance(public_key, rsa.RSAPublicKey)
    return f"rsa:{public_key.key_size}:{public_key.public_numbers().e}"


def spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def token_session(softhsm: SoftHsm, token: str = TOKEN) -> pkcs11.Session:
    """A logged-in session of the test's own, straight through python-pkcs11. Only use it while
    no certsvc key is open: the login is per process, so it would clash with certsvc's."""
    library = pkcs11.lib(str(softhsm.module.resolve()))
    return library.get_token(token_label=token).open(user_pin=USER_PIN)


@pytest.mark.parametrize(
    ("algorithm", "expected", "verify"),
    [
        (KeyAlgorithm.ECDSA_P256, "ec:secp256r1", verify_ec(hashes.SHA256())),
        (KeyAlgorithm.ECDSA_P384, "ec:secp384r1", verify_ec(hashes.SHA384())),
        (KeyAlgorithm.RSA_3072, "rsa:3072:65537", verify_rsa),
    ],
)
def test_generate_and_sign(
    pkcs11_config: Pkcs11Config,
    algorithm: KeyAlgorithm,
    expected: str,
    verify: Callable[[CertificatePublicKeyTypes, bytes, bytes], None],
) -> None:
    label = unique_label()
    ref, public_key = generate_key(pkcs11_config, algorithm, label)
    assert (ref.token_label, ref.label, len(ref.key_id)) == (TOKEN, label, 16)
    assert describe(public_key) == expected

    with open_key(pkcs11_config, ref) as key:
        handle: PrivateKeyHandle = key
        assert handle.algorithm is algorithm
        assert spki(handle.public_key) == spki(public_key)
        signature = handle.sign(DATA)

    verify(public_key, signature, DATA)
    with pytest.raises(InvalidSignature):
        verify(public_key, signature, DATA + b"!")


def test_p256_signature_verifies_with_openssl(pkcs11_config: Pkcs11Config, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not installed")
    ref, public_key = generate_key(pkcs11_config, KeyAlgorithm.ECDSA_P256, unique_label())
    with open_key(pkcs11_config, ref) as key:
        signature = key.sign(DATA)
    (tmp_path / "pub.pem").write_bytes(
        public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp_path / "sig.der").write_bytes(signature)
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "other").write_bytes(DATA + b"!")

    def openssl_verify(data_file: str) -> subprocess.CompletedProcess[str]:
        command = [openssl, "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der"]
        return subprocess.run(
            [*command, data_file], cwd=tmp_path, capture_output=True, text=True, check=False
        )

    good = openssl_verify("data")
    assert good.returncode == 0, good.stderr
    assert "Verified OK" in good.stdout
    assert openssl_verify("other").returncode != 0


@pytest.mark.parametrize(
    ("algorithm", "secret"),
    [
        (KeyAlgorithm.ECDSA_P256, Attribute.VALUE),
        (KeyAlgorithm.RSA_3072, Attribute.PRIVATE_EXPONENT),
    ],
)
def test_private_key_stays_on_the_token(
    softhsm: SoftHsm, pkcs11_config: Pkcs11Config, algorithm: KeyAlgorithm, secret: Attribute
) -> None:
    ref, _ = generate_key(pkcs11_config, algorithm, unique_label())
    with token_session(softhsm) as session:
        private = session.get_key(ObjectClass.PRIVATE_KEY, label=ref.label, id=ref.key_id)
        public = session.get_key(ObjectClass.PUBLIC_KEY, label=ref.label, id=ref.key_id)
        assert private[Attribute.TOKEN] is True
        assert public[Attribute.TOKEN] is True
        assert private[Attribute.SIGN] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.DECRYPT] is False
        with pytest.raises(AttributeSensitive):
            private[secret]


def test_label_collision_is_refused(softhsm: SoftHsm, pkcs11_config: Pkcs11Config) -> None:
    label = unique_label()
    ref, public_key = generate_key(pkcs11_config, KeyAlgorithm.ECDSA_P256, label)
    with pytest.raises(KeyStoreError, match="already has an object labelled"):
        generate_key(pkcs11_config, KeyAlgorithm.ECDSA_P384, label)
    with token_session(softhsm) as session:
        assert len(list(session.get_objects({Attribute.LABEL: label}))) == 2
    with open_key(pkcs11_config, ref) as key:
        assert key.algorithm is KeyAlgorithm.ECDSA_P256
        assert spki(key.public_key) == spki(public_key)


@pytest.fixture
def other_ref(softhsm: SoftHsm) -> Pkcs11KeyRef:
    """A key on the second token, so that wrong-PIN attempts never touch the main one."""
    ref, _ = generate_key(softhsm.config(OTHER_TOKEN), KeyAlgorithm.ECDSA_P256, unique_label())
    return ref


def test_wrong_pin_is_refused_without_showing_it(softhsm: SoftHsm, other_ref: Pkcs11KeyRef) -> None:
    wrong = softhsm.config(OTHER_TOKEN, pin=WRONG_PIN)
    for attempt in (
        lambda: open_key(wrong, other_ref),
        lambda: generate_key(wrong, KeyAlgorithm.ECDSA_P256, unique_label()),
    ):
        with pytest.raises(KeyStoreError) as caught:
            attempt()
        message = str(caught.value)
        assert "CERTSVC_PKCS11_PIN" in message
        assert WRONG_PIN not in message
        assert WRONG_PIN not in repr(caught.value.__cause__)
    assert WRONG_PIN not in repr(wrong)


def test_wrong_pin_is_refused_while_the_token_is_logged_in(
    softhsm: SoftHsm, other_ref: Pkcs11KeyRef
) -> None:
    with open_key(softhsm.config(OTHER_TOKEN), other_ref) as good:
        with pytest.raises(KeyStoreError) as caught:
            open_key(softhsm.config(OTHER_TOKEN, pin=WRONG_PIN), other_ref)
        assert "CERTSVC_PKCS11_PIN" in str(caught.value)
        assert WRONG_PIN not in str(caught.value)
        good.sign(DATA)  # the failed attempt did not log the good key out


def test_keys_share_the_login_until_the_last_one_closes(
    softhsm: SoftHsm, pkcs11_config: Pkcs11Config
) -> None:
    ref_a, public_a = generate_key(pkcs11_config, KeyAlgorithm.ECDSA_P256, unique_label())
    ref_b, _ = generate_key(pkcs11_config, KeyAlgorithm.ECDSA_P256, unique_label())
    key_a = open_key(pkcs11_config, ref_a)
    with open_key(pkcs11_config, ref_b) as key_b:
        key_b.sign(DATA)
        # Generating and deleting while keys are open must not log them out.
        ref_c, _ = generate_key(pkcs11_config, KeyAlgorithm.ECDSA_P256, unique_label())
        delete_key(pkcs11_config, ref_c)
    verify_ec(hashes.SHA256())(public_a, key_a.sign(DATA), DATA)
    key_a.close()
    with pytest.raises(KeyStoreError, match="closed"):
        key_a.sign(DATA)
    # Every certsvc session is gone and logged out, so a fresh login works.
    with token_session(softhsm) as session:
        assert session.get_key(ObjectClass.PUBLIC_KEY, label=ref_a.label) is not None


def test_session_opens_lazily(softhsm: SoftHsm, pkcs11_config: Pkcs11Config) -> None:
    ref, _ = generate_key(pkcs11_config, KeyAlgorithm.ECDSA_P256, unique_label())
    key = Pkcs11PrivateKey(softhsm.config(pin=WRONG_PIN), ref)  # no session yet: no error
    with pytest.raises(KeyStoreError, match="CERTSVC_PKCS11_PIN"):
        key.sign(DATA)
    key.close()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("token", "CERTSVC_PKCS11_TOKEN"),
        ("label", "no private key labelled"),
        ("id", "no private key labelled"),
        ("other-token", "no private key labelled"),
        ("mismatch", "is on PKCS#11 token 'certsvc-test' but CERTSVC_PKCS11_TOKEN"),
    ],
)
def test_open_key_refuses_what_is_not_there(
    softhsm: SoftHsm, pkcs11_config: Pkcs11Config, change: str, expected: str
) -> None:
    config = pkcs11_config
    ref, _ = generate_key(config, KeyAlgorithm.ECDSA_P256, unique_label())
    if change == "token":
        config = softhsm.config("no-such-token")
        ref = Pkcs11KeyRef("no-such-token", ref.label, ref.key_id_hex)
    elif change == "label":
        ref = Pkcs11KeyRef(ref.token_label, "no-such-label", ref.key_id_hex)
    elif change == "id":
        ref = Pkcs11KeyRef(ref.token_label, ref.label, "00" * 16)
    elif change == "other-token":
        config = softhsm.config(OTHER_TOKEN)
        ref = Pkcs11KeyRef(OTHER_TOKEN, ref.label, ref.key_id_hex)
    else:
        config = softhsm.config(OTHER_TOKEN)
    with pytest.raises(KeyStoreError, match=expected):
        open_key(config, ref)


def test_missing_module_is_reported(tmp_path: Path) -> None:
    config = Pkcs11Config(tmp_path / "libnothing.so", TOKEN, USER_PIN)
    ref = Pkcs11KeyRef(TOKEN, "signer", "01")
    for attempt in (
        lambda: open_key(config, ref),
        lambda: generate_key(config, KeyAlgorithm.ECDSA_P256, "signer"),
        lambda: delete_key(config, ref),
    ):
        with pytest.raises(KeyStoreError) as caught:
            attempt()
        assert "CERTSVC_PKCS11_MODULE" in str(caught.value)
        assert "softhsm2" in str(caught.value)
        assert "libnothing.so" in str(caught.value)


def test_delete_key(softhsm: SoftHsm, pkcs11_config: Pkcs11Config) -> None:
    keep, _ = generate_key(pkcs11_config, KeyAlgorithm.ECDSA_P256, unique_label())
    ref, _ = generate_key(pkcs11_config, KeyAlgorithm.RSA_3072, unique_label())
    open_key(pkcs11_config, ref).close()
    delete_key(pkcs11_config, ref)
    with pytest.raises(KeyStoreError, match="no private key labelled"):
        open_key(pkcs11_config, ref)
    with pytest.raises(KeyStoreError, match="to delete"):
        delete_key(pkcs11_config, ref)
    with token_session(softhsm) as session:
        assert list(session.get_objects({Attribute.LABEL: ref.label})) == []
    open_key(pkcs11_config, keep).close()  # only the one key went
    # The label is free again.
    generate_key(pkcs11_config, KeyAlgorithm.ECDSA_P256, ref.label)


@pytest.mark.parametrize(
    ("token", "label", "key_id_hex", "uri"),
    [
        (
            "certsvc-test",
            "signer-2025",
            "0a1bff",
            "pkcs11:token=certsvc-test;object=signer-2025;id=%0A%1B%FF",
        ),
        (
            "省人社厅 token",
            "文档签名 2025",
            "00",
            "pkcs11:token=%E7%9C%81%E4%BA%BA%E7%A4%BE%E5%8E%85%20token;"
            "object=%E6%96%87%E6%A1%A3%E7%AD%BE%E5%90%8D%202025;id=%00",
        ),
        (
            "a;b=c",
            "x%y/z?q#f&g",
            "deadbeef",
            "pkcs11:token=a%3Bb%3Dc;object=x%25y%2Fz%3Fq%23f%26g;id=%DE%AD%BE%EF",
        ),
    ],
)
def test_uri_round_trip(token: str, label: str, key_id_hex: str, uri: str) -> None:
    ref = Pkcs11KeyRef(token, label, key_id_hex)
    assert ref.uri() == uri
    assert Pkcs11KeyRef.parse(uri) == ref


def test_uri_parse_accepts_literal_characters_and_type() -> None:
    ref = Pkcs11KeyRef.parse("pkcs11:type=private;object=my%20key;id=AB;token=t")
    assert ref == Pkcs11KeyRef("t", "my key", "4142")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("", "starting with 'pkcs11:'"),
        ("https:token=t;object=o;id=%01", "starting with 'pkcs11:'"),
        ("pkcs11:", "not of the form"),
        ("pkcs11:token=t;object=o", "lacks a non-empty id"),
        ("pkcs11:token=t;id=%01", "lacks a non-empty object"),
        ("pkcs11:token=t;object=;id=%01", "lacks a non-empty object"),
        ("pkcs11:token=t;token=u;object=o;id=%01", "twice"),
        ("pkcs11:token=t;object=o;id=%zz", "bad %-escape"),
        ("pkcs11:token=t;object=a b;id=%01", "must be percent-encoded"),
        ("pkcs11:token=t;object=%FF;id=%01", "UTF-8"),
        ("pkcs11:token=t;object=o;id=%01;serial=42", "not supported: serial"),
        ("pkcs11:token=t;object=o;id=%01;type=cert", "type must be"),
        ("pkcs11:token=t;object=o;id=%01?pin-value=271828", "query attributes"),
    ],
)
def test_uri_parse_refuses_malformed(uri: str, expected: str) -> None:
    with pytest.raises(KeyStoreError, match=expected) as caught:
        Pkcs11KeyRef.parse(uri)
    assert "271828" not in str(caught.value)


@pytest.mark.parametrize("key_id_hex", ["", "abc", "ABCD", "zz"])
def test_key_ref_needs_lower_case_hex_id(key_id_hex: str) -> None:
    with pytest.raises(KeyStoreError, match="lower-case hex"):
        Pkcs11KeyRef("t", "o", key_id_hex)


ENVIRON = {
    "CERTSVC_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
    "CERTSVC_PKCS11_TOKEN": "bureau-token",
    "CERTSVC_PKCS11_PIN": "8642",
}


def test_config_from_env() -> None:
    config = Pkcs11Config.from_env(ENVIRON)
    assert config == Pkcs11Config(Path("/usr/lib/softhsm/libsofthsm2.so"), "bureau-token", "8642")
    assert "8642" not in repr(config)
    assert "8642" not in str(config)


@pytest.mark.parametrize("variable", sorted(ENVIRON))
@pytest.mark.parametrize("value", [None, ""])
def test_config_from_env_names_missing_variable(variable: str, value: str | None) -> None:
    environ = dict(ENVIRON)
    if value is None:
        del environ[variable]
    else:
        environ[variable] = value
    with pytest.raises(ConfigError, match=variable):
        Pkcs11Config.from_env(environ)
