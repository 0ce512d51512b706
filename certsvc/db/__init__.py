"""Persistence: the database wrapper, shared column types and the gathered schema."""
