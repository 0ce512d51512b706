"""Properties of the Merkle code, checked on generated trees, and its proofs compared with a
literal transcription of the RFC 9162 definitions (MTH, PATH, PROOF/SUBPROOF)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from certsvc.transparency import merkle
from certsvc.transparency.merkle import ProofError


def _leaves(count: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(count)]


# -- RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1, word for word (recursive, slow, obviously right) --


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return merkle.EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return merkle.node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def test_generated_proofs_equal_the_rfc_definitions_up_to_40_leaves() -> None:
    leaves = _leaves(40)
    tree = merkle.MemoryTree(leaves)
    for n in range(1, 41):
        assert tree.root(n) == mth(leaves[:n])
        for m in range(n):
            assert tree.inclusion_path(m, n) == path(m, leaves[:n])
        for m in range(1, n):
            assert tree.consistency_path(m, n) == subproof(m, leaves[:n], True)


sizes = st.integers(min_value=1, max_value=300)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[int, int, int]:
    log_size = draw(sizes)
    size = draw(st.integers(min_value=1, max_value=log_size))
    index = draw(st.integers(min_value=0, max_value=size - 1))
    return log_size, size, index


@settings(max_examples=200, deadline=None)
@given(tree_and_index())
def test_every_inclusion_proof_verifies(case: tuple[int, int, int]) -> None:
    log_size, size, index = case
    tree = merkle.MemoryTree(_leaves(log_size))
    proof = tree.inclusion_path(index, size)
    merkle.verify_inclusion(tree.levels[0][index], index, size, proof, tree.root(size))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    second = draw(st.integers(min_value=0, max_value=300))
    first = draw(st.integers(min_value=0, max_value=second))
    return first, second


@settings(max_examples=200, deadline=None)
@given(two_sizes())
def test_every_consistency_proof_verifies(case: tuple[int, int]) -> None:
    first, second = case
    tree = merkle.MemoryTree(_leaves(second))
    proof = tree.consistency_path(first, second)
    merkle.verify_consistency(first, second, proof, tree.root(first), tree.root(second))


@settings(max_examples=200, deadline=None)
@given(tree_and_index(), st.data())
def test_a_flipped_bit_fails_inclusion(case: tuple[int, int, int], data: st.DataObject) -> None:
    log_size, size, index = case
    tree = merkle.MemoryTree(_leaves(log_size))
    leaf, proof, root = tree.levels[0][index], tree.inclusion_path(index, size), tree.root(size)
    # flip one bit anywhere in the leaf hash, the proof or the root
    parts = [leaf, *proof, root]
    which = data.draw(st.integers(0, len(parts) - 1))
    bit = data.draw(st.integers(0, 8 * merkle.HASH_SIZE - 1))
    changed = bytearray(parts[which])
    changed[bit // 8] ^= 1 << (bit % 8)
    parts[which] = bytes(changed)
    try:
        merkle.verify_inclusion(parts[0], index, size, parts[1:-1], parts[-1])
    except ProofError:
        return
    raise AssertionError(f"a flipped bit in part {which} still verified")


@settings(max_examples=200, deadline=None)
@given(two_sizes(), st.data())
def test_a_flipped_bit_fails_consistency(case: tuple[int, int], data: st.DataObject) -> None:
    first, second = case
    if first == 0:
        first = 1
    second = max(second, first + 1)  # a non-trivial proof
    tree = merkle.MemoryTree(_leaves(second))
    parts = [tree.root(first), *tree.consistency_path(first, second), tree.root(second)]
    which = data.draw(st.integers(0, len(parts) - 1))
    bit = data.draw(st.integers(0, 8 * merkle.HASH_SIZE - 1))
    changed = bytearray(parts[which])
    changed[bit // 8] ^= 1 << (bit % 8)
    parts[which] = bytes(changed)
    try:
        merkle.verify_consistency(first, second, parts[1:-1], parts[0], parts[-1])
    except ProofError:
        return
    raise AssertionError(f"a flipped bit in part {which} still verified")


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=600))
def test_compact_range_and_incremental_tree_agree(size: int) -> None:
    leaves = _leaves(size)
    seen: list[tuple[int, int, bytes]] = []
    compact = merkle.CompactRange(on_node=lambda *node: seen.append(node))
    grown = merkle.MemoryTree()
    for leaf in leaves:
        compact.append(leaf)
        grown.append(leaf)
    full = merkle.MemoryTree(leaves)
    assert compact.root() == grown.root() == full.root() == merkle.root_of(leaves)
    # every perfect node is reported once, with the value the full tree has
    expected = {
        (level, index): value
        for level, nodes in enumerate(full.levels)
        for index, value in enumerate(nodes)
    }
    assert {(level, index): value for level, index, value in seen} == expected
    assert len(seen) == len(expected)
