"""The audit trail: one table, written by one function, for every state change."""
