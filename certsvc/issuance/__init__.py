"""Issuance: batches of documents made, signed, stored, registered and logged."""
