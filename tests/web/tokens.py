"""A well-formed QR token signed by a throw-away key (for pages that do not check signatures)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from certsvc.documents.record import sample_record
from certsvc.documents.token import claims_from_record, encode_token, sign_token
from certsvc.keys.certificates import key_id_for
from certsvc.keys.files import FilePrivateKey


def _sample_token() -> str:
    handle = FilePrivateKey(ec.generate_private_key(ec.SECP256R1()))
    key_id = key_id_for(handle.public_key)
    claims = claims_from_record(sample_record(signer_key_id=key_id))
    return encode_token(sign_token(claims, handle, key_id))


SAMPLE_TOKEN = _sample_token()
