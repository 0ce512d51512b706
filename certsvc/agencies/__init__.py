"""Issuing agencies: the bodies in whose name documents are issued and signed."""
