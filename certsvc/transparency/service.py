"""The transparency log: append entries, sign tree heads, prove inclusion and consistency,
and verify the whole log.

Every function works in the caller's transaction (the issuance batch appends its documents,
signs a tree head and takes their inclusion proofs in the transaction that records them), so
the log never holds an entry whose document was not recorded, nor the other way round.

**Positions.** :func:`append` increments the single ``log_state`` row with
``UPDATE … RETURNING``: on PostgreSQL that locks the row (as ``SELECT … FOR UPDATE`` would)
until the caller's transaction ends, so concurrent writers queue and get consecutive, gap-free
positions in commit order; SQLite has one writer at a time anyway.

**Entries** are RFC 8785 canonical JSON::

    {"document_number": …, "document_sha256": "<64 hex>", "index": 12, "kind": "issue",
     "logged_at": "2026-01-05T09:00:00.123456Z", "details": {…}}

``index`` binds an entry to its position, so a moved entry is named as such; ``details``
(optional) holds what the caller adds (document type, signer key id, the number a reissue
replaces, a revocation reason …), never an identity number.

**Cost.** Leaf hashes are stored with their entries, and perfect-subtree hashes at every
:data:`STRIDE`-th level in ``log_node`` (a row per 255 entries or so). Appending ``k`` entries
costs ``O(k)`` hashes and inserts plus a few reads of at most 255 hashes at the right edge; a
tree head ``O(log n)`` small reads; an inclusion or consistency proof likewise; proofs for a
whole batch share the hashes they read. Nothing reads the whole log except :func:`verify_log`,
which streams it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import rfc8785
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from certsvc.audit.events import FORBIDDEN_DETAIL_KEYS, Action, record
from certsvc.db.base import SQLModel
from certsvc.db.types import utcnow
from certsvc.errors import InputError, NotFoundError
from certsvc.keys.certificates import key_id_for, load_pem
from certsvc.keys.handles import PrivateKeyHandle
from certsvc.keys.models import SigningKey
from certsvc.transparency import merkle
from certsvc.transparency.checkpoint import (
    Checkpoint,
    LogError,
    TreeHeadError,
    sign_checkpoint,
    verify_checkpoint,
)
from certsvc.transparency.models import EntryKind, LogEntry, LogNode, LogState, TreeHead

STRIDE = 8  # log_node keeps the perfect subtrees of levels 8, 16, 24 …
BLOCK = 1 << STRIDE  # so a stored node is the fold of 256 nodes one stride below
ENTRY_VERSION = 1
MAX_APPEND = 1_000_000
VERIFY_CHUNK = 5000

_STATE_ID = 1
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_DOCUMENT_NUMBER = re.compile(r"[0-9A-Za-z][0-9A-Za-z._/-]{0,63}")
_DETAIL_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
_ENTRY_FIELDS = {"details", "document_number", "document_sha256", "index", "kind", "logged_at"}


def _table(model: type[SQLModel]) -> sa.Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, sa.Table)
    return table


_entry_table = _table(LogEntry)
_node_table = _table(LogNode)
_state_table = _table(LogState)

DetailValue = str | int | bool | None


@dataclass(frozen=True)
class NewEntry:
    """What the caller logs: what happened to which document (its SHA-256, lower-case hex, is
    the hash of the signed PDF as stored), and optional public details."""

    kind: EntryKind
    document_number: str
    document_sha256: str
    details: Mapping[str, DetailValue] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggedEntry:
    """An entry as :func:`append` logged it: the values of its ``log_entry`` row."""

    leaf_index: int
    leaf_hash: bytes
    kind: EntryKind
    document_number: str
    document_sha256: str
    entry: bytes
    created_at: datetime


@dataclass(frozen=True)
class InclusionProof:
    """Entry ``leaf_index`` is in the tree of ``tree_size`` entries: RFC 9162 audit path."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]

    def verify(self, root_hash: bytes) -> None:
        """``ProofError`` unless the path leads from the leaf hash to ``root_hash``."""
        merkle.verify_inclusion(
            self.leaf_hash, self.leaf_index, self.tree_size, self.path, root_hash
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "inclusion_path": [node.hex() for node in self.path],
        }


# -- entries ---------------------------------------------------------------------------------


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_bytes(index: int, entry: NewEntry, logged_at: datetime) -> bytes:
    """The canonical bytes of ``entry`` at position ``index``: what is hashed into the tree."""
    payload: dict[str, Any] = {
        "document_number": entry.document_number,
        "document_sha256": entry.document_sha256,
        "index": index,
        "kind": entry.kind.value,
        "logged_at": _timestamp(logged_at),
    }
    if entry.details:
        payload["details"] = dict(entry.details)
    return rfc8785.dumps(payload)


def _check_entry(position: int, entry: NewEntry) -> None:
    where = f"log entry {position + 1} of the batch"
    if not isinstance(entry.kind, EntryKind):
        raise InputError(f"{where}: kind must be one of {', '.join(EntryKind)}")
    if not _DOCUMENT_NUMBER.fullmatch(entry.document_number):
        raise InputError(
            f"{where}: document number {entry.document_number!r} must be 1-64 letters, digits "
            "or . _ / -, starting with a letter or digit"
        )
    if not _SHA256_HEX.fullmatch(entry.document_sha256):
        raise InputError(f"{where}: the document SHA-256 must be 64 lower-case hex digits")
    for key, value in entry.details.items():
        if key in FORBIDDEN_DETAIL_KEYS or not _DETAIL_KEY.fullmatch(key):
            raise InputError(
                f"{where}: detail {key!r} is not allowed (keys are lower-case snake_case; the "
                "log is public and never holds an identity number)"
            )
        if value is not None and not isinstance(value, str | int | bool):
            raise InputError(f"{where}: detail {key!r} must be text, a number, true/false or null")


def _insert_ignore(session: Session, table: sa.Table, values: Mapping[str, Any]) -> None:
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - certsvc supports the two above
        raise LogError(f"the transparency log does not support the {dialect} database")
    session.connection().execute(statement)


def _reserve(session: Session, count: int) -> int:
    """Lock the log state and advance it by ``count``; the first reserved position."""
    increment = (
        sa.update(_state_table)
        .where(_state_table.c.id == _STATE_ID)
        .values(size=_state_table.c.size + count)
        .returning(_state_table.c.size)
    )
    new_size = session.connection().execute(increment).scalar_one_or_none()
    if new_size is None:  # the first append ever: create the row, then lock it
        _insert_ignore(session, _state_table, {"id": _STATE_ID, "size": 0})
        new_size = session.connection().execute(increment).scalar_one()
    return int(new_size) - count


def log_size(session: Session, *, lock: bool = False) -> int:
    """The number of entries (committed, or appended in this transaction). With ``lock``, the
    log state is locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
    query = sa.select(_state_table.c.size).where(_state_table.c.id == _STATE_ID)
    if lock:
        query = query.with_for_update()
    size = session.connection().execute(query).scalar_one_or_none()
    return int(size or 0)


def append(
    session: Session, entries: Sequence[NewEntry], *, actor: str, now: datetime | None = None
) -> list[LoggedEntry]:
    """Add ``entries`` at the end of the log, in order, in the caller's transaction; returns
    what was logged for each, with its position (the rows are inserted in bulk).

    Positions are assigned under the log-state lock, held until the caller's transaction ends:
    keep that transaction short after appending."""
    if not entries:
        return []
    if len(entries) > MAX_APPEND:
        raise InputError(f"at most {MAX_APPEND:,} log entries at once, not {len(entries):,}")
    for position, entry in enumerate(entries):
        _check_entry(position, entry)
    logged_at = (now or utcnow()).astimezone(UTC)
    first = _reserve(session, len(entries))
    logged = []
    for offset, entry in enumerate(entries):
        data = entry_bytes(first + offset, entry, logged_at)
        logged.append(
            LoggedEntry(
                first + offset,
                merkle.leaf_hash(data),
                entry.kind,
                entry.document_number,
                entry.document_sha256,
                data,
                logged_at,
            )
        )
    session.connection().execute(sa.insert(_entry_table), [asdict(row) for row in logged])
    _store_nodes(session, first, [row.leaf_hash for row in logged])
    kinds = Counter(entry.kind.value for entry in entries)
    last = first + len(entries) - 1
    record(
        session,
        Action.LOG_APPEND,
        actor=actor,
        subject_type="transparency_log",
        subject_id=f"{first}-{last}",
        details={"first_index": first, "last_index": last, "count": len(entries), **kinds},
    )
    return logged


def _fold_block(nodes: Sequence[bytes]) -> bytes:
    """The root of ``BLOCK`` (a power of two) consecutive perfect nodes of one level."""
    level = list(nodes)
    while len(level) > 1:
        level = [merkle.node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _read_level(session: Session, level: int, start: int, end: int) -> list[bytes]:
    """Stored perfect nodes ``[start, end)`` of ``level`` (0: leaf hashes), in order."""
    if start >= end:
        return []
    if level == 0:
        query = (
            sa.select(_entry_table.c.leaf_index, _entry_table.c.leaf_hash)
            .where(_entry_table.c.leaf_index >= start, _entry_table.c.leaf_index < end)
            .order_by(_entry_table.c.leaf_index)
        )
    else:
        query = (
            sa.select(_node_table.c.node_index, _node_table.c.hash)
            .where(
                _node_table.c.level == level,
                _node_table.c.node_index >= start,
                _node_table.c.node_index < end,
            )
            .order_by(_node_table.c.node_index)
        )
    found = session.connection().execute(query).all()
    if [index for index, _ in found] != list(range(start, end)):
        raise LogError(
            f"the log is damaged: stored hashes {start}-{end - 1} of level {level} are "
            "incomplete; run `certsvc log verify`"
        )
    return [bytes(value) for _, value in found]


def _store_nodes(session: Session, first: int, leaves: list[bytes]) -> None:
    """Store the perfect nodes of levels STRIDE, 2·STRIDE … that the new leaves complete."""
    level, start, new = 0, first, leaves
    while new:
        end = start + len(new)
        first_block, end_block = start // BLOCK, end // BLOCK
        if first_block == end_block:
            return
        below = _read_level(session, level, first_block * BLOCK, start) + new
        completed = [
            _fold_block(below[i * BLOCK : (i + 1) * BLOCK]) for i in range(end_block - first_block)
        ]
        level += STRIDE
        session.connection().execute(
            sa.insert(_node_table),
            [
                {"level": level, "node_index": first_block + i, "hash": value}
                for i, value in enumerate(completed)
            ],
        )
        start, new = first_block, completed


class DatabaseNodes:
    """A :class:`~certsvc.transparency.merkle.NodeSource` over the stored hashes: a node of a
    stored level is read with the rest of its block of 256 (one range query), any other node
    is hashed from its children, and everything read or hashed is kept for the next proof."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._cache: dict[tuple[int, int], bytes] = {}
        self._size = log_size(session)

    def perfect(self, level: int, index: int) -> bytes:
        key = (level, index)
        value = self._cache.get(key)
        if value is not None:
            return value
        if level % STRIDE == 0:
            block = index // BLOCK
            available = self._size >> level
            start, end = block * BLOCK, min((block + 1) * BLOCK, available)
            if not start <= index < end:
                raise LogError(f"the log has no subtree ({level}, {index}) yet")
            for offset, node in enumerate(_read_level(self._session, level, start, end)):
                self._cache[(level, start + offset)] = node
            return self._cache[key]
        value = merkle.node_hash(
            self.perfect(level - 1, 2 * index), self.perfect(level - 1, 2 * index + 1)
        )
        self._cache[key] = value
        return value

    @property
    def size(self) -> int:
        return self._size


def _check_size(what: str, size: int, available: int) -> None:
    if not 0 <= size <= available:
        raise NotFoundError(f"{what} {size} is beyond the log, which holds {available} entries")


def tree_root(session: Session, tree_size: int | None = None) -> bytes:
    """The root hash of the first ``tree_size`` entries (default: all)."""
    nodes = DatabaseNodes(session)
    size = nodes.size if tree_size is None else tree_size
    _check_size("tree size", size, nodes.size)
    return merkle.root(nodes, size)


def inclusion_proofs(
    session: Session, leaf_indexes: Iterable[int], tree_size: int
) -> list[InclusionProof]:
    """Inclusion proofs of several entries in the tree of ``tree_size`` entries; the hashes
    they share are read and computed once (a batch's proofs cost about what its leaves do)."""
    nodes = DatabaseNodes(session)
    _check_size("tree size", tree_size, nodes.size)
    proofs = []
    for index in leaf_indexes:
        if not 0 <= index < tree_size:
            raise NotFoundError(f"entry {index} is not in the tree of {tree_size} entries")
        path = merkle.inclusion_path(nodes, index, tree_size)
        proofs.append(InclusionProof(index, tree_size, nodes.perfect(0, index), tuple(path)))
    return proofs


def inclusion_proof(session: Session, leaf_index: int, tree_size: int) -> InclusionProof:
    """The inclusion proof (RFC 9162 audit path) of entry ``leaf_index`` in the tree of
    ``tree_size`` entries."""
    return inclusion_proofs(session, [leaf_index], tree_size)[0]


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    """The RFC 9162 consistency proof from the tree of ``first`` entries to that of
    ``second``."""
    nodes = DatabaseNodes(session)
    _check_size("tree size", second, nodes.size)
    if not 0 <= first <= second:
        raise InputError(f"no consistency proof from size {first} to the smaller size {second}")
    return merkle.consistency_path(nodes, first, second)


# -- tree heads ------------------------------------------------------------------------------


def origin_for(public_base_url: str) -> str:
    """The log's origin line for a public base URL: ``https://zc.example.gov.cn`` gives
    ``zc.example.gov.cn/log`` (C2SP checkpoints name a log by a URL without scheme)."""
    rest = public_base_url.split("://", 1)[-1].rstrip("/")
    return f"{rest}/log"


def sign_tree_head(
    session: Session,
    handle: PrivateKeyHandle,
    key_id: str,
    *,
    actor: str,
    origin: str,
    batch_ref: str | None = None,
    now: datetime | None = None,
) -> TreeHead:
    """Sign the root of the whole log (including what this transaction appended) with
    ``handle`` (key ``key_id``) and record the tree head. ``origin``: see :func:`origin_for`."""
    if batch_ref is not None and not 1 <= len(batch_ref) <= 64:
        raise InputError("a batch reference is 1-64 characters")
    size = log_size(session, lock=True)
    root_hash = tree_root(session, size)
    signed_at = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    envelope = sign_checkpoint(Checkpoint(origin, size, root_hash, signed_at), handle, key_id)
    head = TreeHead(
        tree_size=size,
        root_hash=root_hash,
        signed_at=signed_at,
        origin=origin,
        key_id=key_id,
        envelope=envelope,
        batch_ref=batch_ref,
        created_by=actor,
    )
    session.add(head)
    session.flush()
    record(
        session,
        Action.LOG_TREE_HEAD,
        actor=actor,
        subject_type="tree_head",
        subject_id=head.id,
        details={
            "tree_size": size,
            "root_hash": root_hash.hex(),
            "key_id": key_id,
            "batch_ref": batch_ref,
        },
    )
    return head


def latest_tree_head(session: Session) -> TreeHead | None:
    """The tree head of the largest size (the newest of those)."""
    return session.exec(
        select(TreeHead).order_by(col(TreeHead.tree_size).desc(), col(TreeHead.id).desc())
    ).first()


def entries_for_document(session: Session, document_number: str) -> list[LogEntry]:
    """Every entry about ``document_number``, oldest first."""
    return list(
        session.exec(
            select(LogEntry)
            .where(LogEntry.document_number == document_number)
            .order_by(col(LogEntry.leaf_index))
        )
    )


# -- verification ----------------------------------------------------------------------------

TrustMaterial = Mapping[str, CertificatePublicKeyTypes]


def trust_from_certificates(
    certificates: Iterable[x509.Certificate],
) -> dict[str, CertificatePublicKeyTypes]:
    """Key id → public key for each certificate (CA certificates are skipped)."""
    trust: dict[str, CertificatePublicKeyTypes] = {}
    for certificate in certificates:
        try:
            is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            public_key = certificate.public_key()
            trust[key_id_for(public_key)] = public_key
    return trust


def trust_from_database(session: Session) -> dict[str, CertificatePublicKeyTypes]:
    """Key id → public key of every document signer the database knows."""
    signers = session.exec(select(SigningKey)).all()
    return trust_from_certificates(load_pem(signer.certificate_pem) for signer in signers)


@dataclass
class LogVerification:
    """What :func:`verify_log` found: counts, and one sentence per problem."""

    entries: int = 0
    tree_heads: int = 0
    stored_nodes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        summary = (
            f"{self.entries} entries, {self.tree_heads} signed tree heads, "
            f"{self.stored_nodes} stored subtree hashes"
        )
        if self.ok:
            return f"log verified: {summary}; every entry, hash, signature and tree head agrees"
        lines = [f"log verification FAILED ({len(self.problems)} problems; {summary}):"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


def _check_entry_row(row: Sequence[Any], problems: list[str]) -> bytes:
    """Problems of one stored entry; returns the leaf hash recomputed from its bytes."""
    index, stored_hash, kind, number, sha256, stored_data = row
    data = bytes(stored_data)
    leaf = merkle.leaf_hash(data)
    if leaf != bytes(stored_hash):
        problems.append(
            f"entry {index}: its bytes do not hash to its stored leaf hash (the entry was "
            "edited after it was logged)"
        )
    try:
        payload = json.loads(data)
        canonical = rfc8785.dumps(payload) == data
    except (ValueError, rfc8785.CanonicalizationError):
        payload, canonical = None, False
    if not canonical or not isinstance(payload, dict) or not set(payload) <= _ENTRY_FIELDS:
        problems.append(f"entry {index}: its bytes are not a canonical certsvc log entry")
        return leaf
    if payload.get("index") != index:
        problems.append(
            f"entry {index}: it says it is entry {payload.get('index')} (entries were moved "
            "or reordered)"
        )
    for column, value in (
        ("kind", kind.value if isinstance(kind, EntryKind) else kind),
        ("document_number", number),
        ("document_sha256", sha256),
    ):
        if payload.get(column) != value:
            problems.append(
                f"entry {index}: its {column} column ({value}) differs from what was logged "
                f"({payload.get(column)})"
            )
    return leaf


def verify_log(session: Session, trust: TrustMaterial) -> LogVerification:
    """Check the whole log: every entry's bytes against its leaf hash and columns, positions
    without gaps, the stored subtree hashes, each tree head's root (recomputed from the
    entries), signature (with ``trust``: key id → public key) and fields, and the
    consistency of each tree head with the one before it."""
    result = LogVerification()
    problems = result.problems
    heads = list(session.exec(select(TreeHead).order_by(col(TreeHead.tree_size), col(TreeHead.id))))
    head_sizes = {head.tree_size for head in heads}
    roots: dict[int, bytes] = {}
    if 0 in head_sizes:
        roots[0] = merkle.EMPTY_ROOT
    recomputed_nodes: dict[tuple[int, int], bytes] = {}

    def keep(level: int, index: int, value: bytes) -> None:
        if level and level % STRIDE == 0:
            recomputed_nodes[(level, index)] = value

    compact = merkle.CompactRange(on_node=keep)
    columns = (
        _entry_table.c.leaf_index,
        _entry_table.c.leaf_hash,
        _entry_table.c.kind,
        _entry_table.c.document_number,
        _entry_table.c.document_sha256,
        _entry_table.c.entry,
    )
    after = -1
    while True:
        chunk = (
            session.connection()
            .execute(
                sa.select(*columns)
                .where(_entry_table.c.leaf_index > after)
                .order_by(_entry_table.c.leaf_index)
                .limit(VERIFY_CHUNK)
            )
            .all()
        )
        for row in chunk:
            index = row[0]
            position = compact.size
            if index != position:
                missing = (
                    f"entry {position} is"
                    if index == position + 1
                    else f"entries {position}-{index - 1} are"
                )
                problems.append(
                    f"{missing} missing (entries were deleted): the next stored entry is {index}"
                )
            compact.append(_check_entry_row(tuple(row), problems))
            if compact.size in head_sizes:
                roots[compact.size] = compact.root()
        if len(chunk) < VERIFY_CHUNK:
            break
        after = chunk[-1][0]
    result.entries = compact.size
    stored_size = log_size(session)
    if stored_size != compact.size:
        problems.append(
            f"the log state counts {stored_size} entries but {compact.size} are stored "
            f"({'entries were deleted' if stored_size > compact.size else 'rows were added'})"
        )
    _check_stored_nodes(session, recomputed_nodes, result)
    _check_tree_heads(session, heads, roots, trust, compact.size, result)
    return result


def _check_stored_nodes(
    session: Session, recomputed: dict[tuple[int, int], bytes], result: LogVerification
) -> None:
    stored = {
        (level, index): bytes(value)
        for level, index, value in session.connection().execute(
            sa.select(_node_table.c.level, _node_table.c.node_index, _node_table.c.hash)
        )
    }
    result.stored_nodes = len(stored)
    for key in sorted(recomputed.keys() | stored.keys()):
        level, index = key
        if key not in stored:
            result.problems.append(f"the stored subtree hash ({level}, {index}) is missing")
        elif key not in recomputed:
            result.problems.append(
                f"a subtree hash ({level}, {index}) is stored beyond the entries the log holds"
            )
        elif stored[key] != recomputed[key]:
            result.problems.append(
                f"the stored subtree hash ({level}, {index}) does not match the entries below it"
            )


def _check_tree_heads(
    session: Session,
    heads: list[TreeHead],
    roots: dict[int, bytes],
    trust: TrustMaterial,
    entry_count: int,
    result: LogVerification,
) -> None:
    problems = result.problems
    result.tree_heads = len(heads)
    origin = heads[0].origin if heads else None
    previous: tuple[TreeHead, bytes] | None = None
    for head in heads:
        name = f"tree head {head.id} (size {head.tree_size}, key {head.key_id})"
        signed_root = bytes(head.root_hash)
        public_key = trust.get(head.key_id)
        if public_key is None:
            problems.append(f"{name}: its signer is not in the trust material")
        else:
            try:
                checkpoint = verify_checkpoint(bytes(head.envelope), public_key)
            except TreeHeadError as exc:
                problems.append(f"{name}: {exc}")
            else:
                signed_root = checkpoint.root_hash
                for what, stored, signed in (
                    ("tree size", head.tree_size, checkpoint.tree_size),
                    ("root hash", bytes(head.root_hash).hex(), checkpoint.root_hash.hex()),
                    ("origin", head.origin, checkpoint.origin),
                    ("timestamp", head.signed_at, checkpoint.timestamp),
                ):
                    if stored != signed:
                        problems.append(
                            f"{name}: its {what} column ({stored}) differs from the signed "
                            f"tree head ({signed})"
                        )
        if head.origin != origin:
            problems.append(f"{name}: its origin {head.origin!r} is not the log's {origin!r}")
        if head.tree_size > entry_count:
            problems.append(
                f"{name}: it covers {head.tree_size} entries but the log holds {entry_count} "
                "(entries were deleted)"
            )
        elif roots.get(head.tree_size) != signed_root:
            problems.append(f"{name}: its root does not match the root recomputed from the entries")
        if previous is not None:
            before, before_root = previous
            if head.signed_at < before.signed_at:
                problems.append(
                    f"{name}: it is dated {head.signed_at:%Y-%m-%d %H:%M:%S}, before tree head "
                    f"{before.id} of the smaller size {before.tree_size} "
                    f"({before.signed_at:%Y-%m-%d %H:%M:%S})"
                )
            _check_consistency(session, before, before_root, head, signed_root, problems)
        previous = (head, signed_root)


def _check_consistency(
    session: Session,
    before: TreeHead,
    before_root: bytes,
    head: TreeHead,
    head_root: bytes,
    problems: list[str],
) -> None:
    pair = f"tree heads {before.id} (size {before.tree_size}) and {head.id} (size {head.tree_size})"
    try:
        proof = consistency_proof(session, before.tree_size, head.tree_size)
        merkle.verify_consistency(before.tree_size, head.tree_size, proof, before_root, head_root)
    except merkle.ProofError as exc:
        problems.append(
            f"{pair} are inconsistent: the later one does not extend the earlier ({exc})"
        )
    except (LogError, NotFoundError) as exc:
        problems.append(f"{pair}: no consistency proof can be built from the stored log ({exc})")
