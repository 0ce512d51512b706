"""The transparency log: an append-only Merkle log (RFC 9162) of issued, revoked and reissued
documents, with signed tree heads, inclusion and consistency proofs, and a full verifier."""
