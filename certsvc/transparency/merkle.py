"""Merkle tree hashing and proofs exactly as RFC 9162 §2.1 (and RFC 6962 §2.1) define them.

* leaf hash ``SHA-256(0x00 || data)``, interior node ``SHA-256(0x01 || left || right)``, the
  empty tree ``SHA-256("")``;
* ``MTH(D[n])`` splits at the largest power of two smaller than ``n``;
* an inclusion proof is the audit path ``PATH(m, D[n])`` (§2.1.3.1), a consistency proof
  ``PROOF(m, D[n])`` (§2.1.4.1), both as plain lists of 32-byte hashes, bottom-up, so that any
  RFC 6962/9162 verifier (e.g. Go's transparency-dev/merkle) checks them unchanged;
* :func:`verify_inclusion` and :func:`verify_consistency` are the verification algorithms of
  §2.1.3.2 and §2.1.4.2, step by step.

Proofs are computed from **perfect subtrees**: the node at ``(level, index)`` is the root of the
``2**level`` leaves starting at ``index * 2**level``. Once complete, such a node never changes in
an append-only log, so a store can keep some of them and compute the others from its children.
Every hash in a proof or a root is a perfect node or a fold of a few of them along the tree's
right edge: ``O(log n)`` perfect nodes per proof, whatever ``n`` is. A :class:`NodeSource`
supplies them: :class:`MemoryTree` from leaf hashes in memory (levels built in one pass), the
log service from the database.

A maintained library was considered first: pymerkle (7.0) hashes as RFC 9162 does but its
proofs are its own format (the leaf hash first, plus "rule" and "subset" bit lists), its
storage is its own (in memory or its own SQLite file), and it has no type information. This
module is the small, typed alternative, tested against the RFC 6962 reference vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof does not verify, or its parameters are impossible; the message says which."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: an interior node."""
    return _sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` > 1): where ``MTH`` splits."""
    return 1 << ((n - 1).bit_length() - 1)


class NodeSource(Protocol):
    """Supplies the hash of the perfect subtree ``(level, index)``: the root of the
    ``2**level`` leaves from ``index * 2**level``. Only nodes inside the tree are asked for."""

    def perfect(self, level: int, index: int) -> bytes: ...


def range_hash(source: NodeSource, start: int, end: int) -> bytes:
    """``MTH(D[start:end])`` (non-empty range), from as few perfect nodes as the range holds."""
    width = end - start
    if width <= 0:
        raise ValueError(f"empty range [{start}, {end})")
    if width & (width - 1) == 0 and start % width == 0:
        return source.perfect(width.bit_length() - 1, start // width)
    k = split_point(width)
    return node_hash(range_hash(source, start, start + k), range_hash(source, start + k, end))


def root(source: NodeSource, size: int) -> bytes:
    """``MTH(D[size])``: the root of the first ``size`` leaves."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    return EMPTY_ROOT if size == 0 else range_hash(source, 0, size)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose ``MTH`` make up ``PATH(index, D[size])``, bottom-up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose ``MTH`` make up ``PROOF(first, D[second])``, bottom-up; empty when
    ``first`` is 0 or equals ``second`` (nothing to prove)."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, second, first, True
    # SUBPROOF(m, D[start:end], complete), unrolled: each step appends the range it keeps.
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def inclusion_path(source: NodeSource, index: int, size: int) -> list[bytes]:
    """The inclusion proof (audit path) of leaf ``index`` in the tree of ``size`` leaves."""
    return [range_hash(source, a, b) for a, b in inclusion_ranges(index, size)]


def consistency_path(source: NodeSource, first: int, second: int) -> list[bytes]:
    """The consistency proof from the tree of ``first`` leaves to the tree of ``second``."""
    return [range_hash(source, a, b) for a, b in consistency_ranges(first, second)]


def _check_hashes(what: str, hashes: Iterable[bytes]) -> None:
    for position, value in enumerate(hashes):
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise ProofError(f"{what}[{position}] is not a {HASH_SIZE}-byte hash")


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root_hash: bytes
) -> None:
    """RFC 9162 §2.1.3.2: check that the leaf hash ``leaf`` is entry ``index`` of the tree of
    ``size`` leaves whose root is ``root_hash``. Returns nothing; ``ProofError`` if not."""
    _check_hashes("the leaf hash", [leaf])
    _check_hashes("the root hash", [root_hash])
    _check_hashes("the inclusion path", path)
    if index < 0 or index >= size:  # step 1
        raise ProofError(f"leaf index {index} is not below the tree size {size}")
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in path:  # step 4
        if sn == 0:  # 4a
            raise ProofError("the inclusion path is longer than the tree is deep")
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1  # 4c
    if sn != 0:  # step 5
        raise ProofError("the inclusion path is shorter than the tree is deep")
    if r != root_hash:
        raise ProofError("the inclusion path does not lead to the root hash")


def verify_consistency(
    first: int, second: int, path: Sequence[bytes], first_root: bytes, second_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2: check that the tree of ``second`` leaves with root ``second_root``
    extends the tree of ``first`` leaves with root ``first_root``. ``ProofError`` if not.

    The RFC's algorithm covers ``0 < first < second``; as every RFC 6962 verifier does, equal
    sizes need equal roots and an empty proof, and the empty tree is a prefix of every tree."""
    _check_hashes("the first root hash", [first_root])
    _check_hashes("the second root hash", [second_root])
    _check_hashes("the consistency path", path)
    if first < 0 or second < first:
        raise ProofError(f"a tree of size {second} cannot extend a tree of size {first}")
    if first == second:
        if path:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError(f"two different roots for the same tree size {first}")
        return
    if first == 0:
        if path:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    if not path:  # step 1
        raise ProofError("the consistency path is empty")
    nodes = list(path)
    if first & (first - 1) == 0:  # step 2: first is an exact power of 2
        nodes.insert(0, first_root)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = nodes[0]  # step 5
    for c in nodes[1:]:  # step 6
        if sn == 0:  # 6a
            raise ProofError("the consistency path is longer than the tree is deep")
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1  # 6c
    if sn != 0:  # step 7
        raise ProofError("the consistency path is shorter than the tree is deep")
    if fr != first_root:
        raise ProofError(f"the consistency path does not lead to the root of size {first}")
    if sr != second_root:
        raise ProofError(f"the consistency path does not lead to the root of size {second}")


class MemoryTree:
    """A :class:`NodeSource` over leaf hashes in memory: every level of perfect nodes, built in
    one pass (``n - 1`` node hashes for ``n`` leaves)."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        self._extend_levels()

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        self.levels[0].append(leaf)
        self._extend_levels()

    def _extend_levels(self) -> None:
        level = 0
        while len(self.levels[level]) > 1:
            nodes = self.levels[level]
            if level + 1 == len(self.levels):
                self.levels.append([])
            above = self.levels[level + 1]
            for i in range(len(above), len(nodes) // 2):
                above.append(node_hash(nodes[2 * i], nodes[2 * i + 1]))
            level += 1

    def perfect(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return root(self, self.size if size is None else size)

    def inclusion_path(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_path(self, index, self.size if size is None else size)

    def consistency_path(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_path(self, first, self.size if second is None else second)


class CompactRange:
    """The right edge of a growing tree: one perfect node per set bit of its size, in
    ``O(log n)`` memory, so a stream of leaves yields the root at any size seen.

    ``on_node(level, index, hash)``, when given, is told each perfect node as it completes
    (leaves included, at level 0)."""

    def __init__(self, on_node: Callable[[int, int, bytes], None] | None = None) -> None:
        self.size = 0
        self._nodes: list[bytes] = []  # perfect nodes left to right, largest first
        self._on_node = on_node

    def append(self, leaf: bytes) -> None:
        index, level, value = self.size, 0, leaf
        if self._on_node is not None:
            self._on_node(0, index, value)
        self.size += 1
        while index & 1:
            value = node_hash(self._nodes.pop(), value)
            index, level = index >> 1, level + 1
            if self._on_node is not None:
                self._on_node(level, index, value)
        self._nodes.append(value)

    def root(self) -> bytes:
        if not self._nodes:
            return EMPTY_ROOT
        value = self._nodes[-1]
        for node in reversed(self._nodes[:-1]):
            value = node_hash(node, value)
        return value


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    """``MTH`` of the given leaf hashes, streamed: ``O(log n)`` memory."""
    compact = CompactRange()
    for leaf in leaf_hashes:
        compact.append(leaf)
    return compact.root()
