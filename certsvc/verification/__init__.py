"""Verification: is a document genuine, current and unaltered? From a QR token, a PDF, or a
document number with the holder's name; online (with the registry) or offline (trust list
alone)."""
