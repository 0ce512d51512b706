"""RFC 6962/9162 hashing and proofs against the published reference vectors.

The vectors are those of the RFC 6962 reference tree (the 8 leaves below) as published in
transparency-dev/merkle, ``proof/verify_test.go`` (``roots``, ``leaves``, ``inclusionProofs``,
``consistencyProofs``; they come from google/certificate-transparency's C++ tests), and the
corrupted-proof probes follow that file's ``corruptInclusionProof`` / ``corruptConsistencyProof``.
Leaf numbers in ``inclusionProofs`` there are 1-based; here they are 0-based indexes.
"""

from __future__ import annotations

import pytest

from certsvc.transparency import merkle
from certsvc.transparency.merkle import ProofError

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
# roots[i] is the root of the tree of the first i + 1 leaves
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _h(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


# (0-based leaf index, tree size, audit path)
INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _h(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _h(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

# (first size, second size, consistency path)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _h(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

TREE = merkle.MemoryTree(merkle.leaf_hash(leaf) for leaf in LEAVES)


def test_empty_tree_root() -> None:
    assert merkle.EMPTY_ROOT == EMPTY
    assert merkle.MemoryTree().root() == EMPTY
    assert merkle.root_of([]) == EMPTY


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_the_reference_tree(size: int) -> None:
    assert TREE.root(size) == ROOTS[size - 1]
    assert merkle.root_of(TREE.levels[0][:size]) == ROOTS[size - 1]
    assert merkle.MemoryTree(TREE.levels[0][:size]).root() == ROOTS[size - 1]


def test_leaf_and_node_hashing() -> None:
    # A one-leaf tree's root is its leaf hash; two leaves' root is their node hash.
    assert merkle.leaf_hash(LEAVES[0]) == ROOTS[0]
    assert merkle.node_hash(merkle.leaf_hash(LEAVES[0]), merkle.leaf_hash(LEAVES[1])) == ROOTS[1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_are_generated_as_published(
    index: int, size: int, path: list[bytes]
) -> None:
    assert TREE.inclusion_path(index, size) == path
    merkle.verify_inclusion(TREE.levels[0][index], index, size, path, ROOTS[size - 1])


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_are_generated_as_published(
    first: int, second: int, path: list[bytes]
) -> None:
    assert TREE.consistency_path(first, second) == path
    merkle.verify_consistency(first, second, path, ROOTS[first - 1], ROOTS[second - 1])


def _flip(path: list[bytes], position: int, mask: int) -> list[bytes]:
    changed = bytearray(path[position])
    changed[0] ^= mask
    return [*path[:position], bytes(changed), *path[position + 1 :]]


@pytest.mark.parametrize(("index", "size", "path"), [v for v in INCLUSION if v[2]])
def test_corrupted_inclusion_proofs_fail(index: int, size: int, path: list[bytes]) -> None:
    leaf, root = TREE.levels[0][index], ROOTS[size - 1]
    probes: list[tuple[bytes, int, int, list[bytes], bytes]] = [
        (leaf, index - 1, size, path, root),
        (leaf, index + 1, size, path, root),
        (leaf, index ^ 2, size, path, root),
        (leaf, index, size * 2, path, root),
        (leaf, index, size // 2, path, root),
        (merkle.leaf_hash(b"WrongLeaf"), index, size, path, root),
        (leaf, index, size, path, EMPTY),
        (leaf, index, size, path, SOME_HASH),
        (leaf, index, size, [*path, b""], root),
        (leaf, index, size, [*path, root], root),
        (leaf, index, size, [b"", *path], root),
        (leaf, index, size, [root, *path], root),
        (leaf, index, size, path[:-1], root),
    ]
    if len(path) > 1:
        probes.append((leaf, index, size, [path[0], SOME_HASH, *path[1:]], root))
    probes += [(leaf, index, size, _flip(path, i, 8), root) for i in range(len(path))]
    for probe in probes:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*probe)


@pytest.mark.parametrize(("first", "second", "path"), [v for v in CONSISTENCY if v[2]])
def test_corrupted_consistency_proofs_fail(first: int, second: int, path: list[bytes]) -> None:
    r1, r2 = ROOTS[first - 1], ROOTS[second - 1]
    probes: list[tuple[int, int, list[bytes], bytes, bytes]] = [
        (first - 1, second, path, r1, r2),
        (first + 1, second, path, r1, r2),
        (first ^ 2, second, path, r1, r2),
        (first, second * 2, path, r1, r2),
        (first, second // 2, path, r1, r2),
        (first, second, path, SOME_HASH, r2),
        (first, second, path, r1, SOME_HASH),
        (first, second, path, r2, r1),
        (first, second, [], r1, r2),
        (first, second, [*path, b""], r1, r2),
        (first, second, [*path, r1], r1, r2),
        (first, second, [*path, r2], r1, r2),
        (first, second, [b"", *path], r1, r2),
        (first, second, [r1, *path], r1, r2),
        (first, second, [r2, *path], r1, r2),
        (first, second, [path[0], *path], r1, r2),
        (first, second, path[:-1], r1, r2),
    ]
    probes += [(first, second, _flip(path, i, 16), r1, r2) for i in range(len(path))]
    for probe in probes:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*probe)


def test_trivial_consistency_cases() -> None:
    # as in verify_test.go's TestVerifyConsistency
    merkle.verify_consistency(0, 0, [], EMPTY, EMPTY)
    merkle.verify_consistency(0, 1, [], EMPTY, ROOTS[0])
    merkle.verify_consistency(1, 1, [], ROOTS[0], ROOTS[0])
    for probe in [
        (1, 1, [], ROOTS[0], ROOTS[1]),  # same size, different roots
        (1, 0, [], ROOTS[0], ROOTS[0]),  # time travel
        (2, 1, [], ROOTS[1], ROOTS[0]),
        (1, 2, [], ROOTS[0], ROOTS[1]),  # empty proof
        (0, 0, [EMPTY], EMPTY, EMPTY),  # equal roots but a proof
        (0, 1, [EMPTY], EMPTY, ROOTS[0]),
        (1, 1, [EMPTY], ROOTS[0], ROOTS[0]),
    ]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*probe)


def test_impossible_inclusion_parameters() -> None:
    for index, size in [(0, 0), (1, 0), (2, 1), (1, 1)]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)
    with pytest.raises(ValueError, match="not in a tree"):
        TREE.inclusion_path(8, 8)
    with pytest.raises(ValueError, match="no consistency proof"):
        TREE.consistency_path(5, 4)


def test_single_entry_tree() -> None:
    one = merkle.leaf_hash(b"data")
    merkle.verify_inclusion(one, 0, 1, [], one)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(one, 0, 1, [], b"")
    with pytest.raises(ProofError):
        merkle.verify_inclusion(b"", 0, 1, [], one)
