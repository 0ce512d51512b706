"""Revocation, reissue and the published status list."""
