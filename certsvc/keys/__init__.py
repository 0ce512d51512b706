"""Agency keys and the trust chain: the bureau root, document signers, rotation, revocation,
hardware keys (PKCS#11) and the published trust list.

Only the issuing side loads private keys; the web process reads certificates and the published
trust list from the database and never opens the key folder.
"""
