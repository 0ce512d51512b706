"""Signing jobs: what the console asks for and the signer process does (it holds the keys)."""
