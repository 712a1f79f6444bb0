"""Blocking JSON Lines helpers shared by the file sink and the spill file.

A record is one line ending in ``\\n``; bytes after the last newline are a torn
write (crash mid-write) and are never returned as a record (at start,
``repair_tail`` puts the newline back after a whole record that only lacks it).
Callers run these in a worker thread.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from novaos.audit.record import AuditRecord, decode, decode_stored
from novaos.errors import ConfigError

_log = logging.getLogger("novaos.audit")

_TAIL_CHUNK = 64 * 1024
_MAX_RECORD = 4 * 1024 * 1024  # a tail longer than this is not one record


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is out (regular files may write short)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def unwritable(setting: str, what: str, exc: OSError) -> ConfigError:
    """The start-up error for a path we may not create or write (read-only,
    sysfs, a file where a directory should be): restarting cannot fix it."""
    reason = exc.strerror or str(exc)
    if exc.filename:
        reason = f"{reason} ({exc.filename})"
    return ConfigError(f"invalid configuration: {setting}: cannot write the {what}: {reason}")


def private_dir(directory: Path, *, top: Path | None = None) -> None:
    """Make ``directory`` owner-only (0700) when it is missing: what goes in it holds
    prompts, answers and user pseudonyms; so are the missing directories between it
    and ``top`` (one of its parents: the audit directory the spill lies in by
    default). Parents above those are made with the default mode (the umask's), as
    ``mkdir -p`` makes them: they may hold the operator's other files
    (``/var/log/novaos/app.log`` for a log shipper), and the private directory
    alone hides what is in it. A directory that exists already (a mounted volume,
    one the image or the operator made) keeps its mode."""
    top = top or directory
    _mkdir(top.parent, parents=True)  # another worker may make one first
    for each in (*reversed(directory.parents[: len(directory.parents) - len(top.parents)]),
                 directory):  # fmt: skip
        _mkdir(each, mode=0o700)


def _mkdir(directory: Path, *, mode: int = 0o777, parents: bool = False) -> None:
    """``directory.mkdir`` that takes an existing directory, and names a file in the
    way as "Not a directory" (``mkdir`` says "File exists", which reads as no
    problem at all)."""
    try:
        directory.mkdir(mode=mode, parents=parents, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(
            errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(directory)
        ) from None


def fsync_dir(directory: Path) -> None:
    """Make a created or renamed file's directory entry durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_newline(fd: int, size: int) -> int:
    """Offset just past the last ``\\n`` in the file (0 when there is none)."""
    end = size
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        chunk = os.pread(fd, end - start, start)
        index = chunk.rfind(b"\n")
        if index >= 0:
            return start + index + 1
        end = start
    return 0


def _last_line(fd: int, size: int) -> tuple[int, bytes]:
    """(start offset, bytes) of the last complete line, or (0, b"") if none."""
    end = _last_newline(fd, size)
    if end == 0:
        return 0, b""
    start = _last_newline(fd, end - 1)
    return start, os.pread(fd, end - start, start)


def repair_tail(path: Path) -> AuditRecord | None:
    """Cut a torn tail off ``path``; return its last record.

    After a crash the file may end in half a line (killed mid-write) or, after
    a power loss, in lines of zeros; both are cut so that what remains is only
    whole records. A tail that parses as a whole record is not torn (half a
    line never does) but a last record missing only its final newline (a
    restore or copy that dropped it, or an edit): the newline is put back and
    it is then read like any last line, never cut. A whole line that does not
    parse, or a last record that does not follow the line before it, is not
    a crash's doing but an edit: it is kept, and ``ValueError`` stops the sink
    from opening (the writer spills, the gateway reports the sink down) rather
    than erase it or chain onto it; ``check_head`` does the same for a last
    record that does not match its hash.
    """
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        good_end = _last_newline(fd, size)
        if good_end < size and (record := _unended_record(fd, good_end, size)):
            os.pwrite(fd, b"\n", size)
            os.fsync(fd)
            _log.warning("audit: put back the missing final newline of %s", path.name)
            return _linked(fd, path, good_end, record)
        while good_end > 0:
            start, line = _last_line(fd, good_end)
            if not line.strip(b"\0\n"):  # a power loss's zeros
                good_end = start
                continue
            record = _decode_last(path, line)
            _truncate(fd, path, size, good_end)
            return _linked(fd, path, start, record)
        _truncate(fd, path, size, 0)
        return None
    finally:
        os.close(fd)


def cut_torn_tail(path: Path) -> None:
    """Cut the bytes after ``path``'s last newline, as ``repair_tail`` does at start
    (a whole record that only lacks its newline gets it back). Only for a caller
    holding the appenders' lock: every live appender finishes its lines under it,
    so a torn tail there is a writer that died mid-write (a SIGKILL's short write),
    and a batch appended after it would be glued onto the fragment."""
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        good_end = _last_newline(fd, size)
        if good_end == size:
            return
        if _unended_record(fd, good_end, size):
            os.pwrite(fd, b"\n", size)
            os.fsync(fd)
            _log.warning("audit: put back the missing final newline of %s", path.name)
        else:
            _truncate(fd, path, size, good_end)
    finally:
        os.close(fd)


def _linked(fd: int, path: Path, start: int, record: AuditRecord) -> AuditRecord:
    """``record`` (the last line, at ``start``) when it follows the line before
    it in the file; else ``ValueError``: a copy of an earlier record at the end
    would make its seq the head, so new records would reuse seqs and verify
    would stop short of the records after it."""
    _, previous = _last_line(fd, start)
    try:
        before = decode(previous) if previous.strip(b"\0\n") else None
    except ValueError:
        return record  # a line that does not parse: verify names it
    if before is None or (record.seq, record.prev_hash) == (before.seq + 1, before.hash):
        return record
    raise ValueError(
        f"{path.name}: its last record, {record.seq}, does not follow record {before.seq}"
        " before it (a line copied, moved or deleted?); not chaining onto it"
    )


def _unended_record(fd: int, start: int, size: int) -> AuditRecord | None:
    """The bytes from ``start`` to the end as a whole record; None when they
    are not one (a torn write). Whether it verifies and links on is not asked
    here: cutting a whole record would erase it, and the edit with it."""
    if size - start > _MAX_RECORD:
        return None
    try:
        return decode(os.pread(fd, size - start, start))
    except ValueError:
        return None


def last_record(path: Path) -> AuditRecord | None:
    """The last whole record in ``path`` without modifying it."""
    return last_stored(path)[0]


def last_stored(path: Path) -> tuple[AuditRecord | None, bytes]:
    """The last whole record in ``path`` and its line as stored (None, b"": none)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _, line = _last_line(fd, os.fstat(fd).st_size)
        return (_decode_last(path, line), line) if line else (None, b"")
    finally:
        os.close(fd)


def _decode_last(path: Path, line: bytes) -> AuditRecord:
    """The last whole line of ``path`` as a record; one that does not parse names
    the file (``ValueError``), so verify and the operator know where to look."""
    try:
        return decode_stored(line)
    except ValueError as exc:
        raise ValueError(
            f"{path.name} ends in a whole line that does not parse (edited?): {exc}"
        ) from None


def _truncate(fd: int, path: Path, size: int, good_end: int) -> None:
    if good_end < size:
        _log.warning("audit: cut %d torn bytes off %s", size - good_end, path.name)
        os.ftruncate(fd, good_end)
        os.fsync(fd)


def read_records(
    path: Path, *, unreadable: Callable[[str], None] | None = None
) -> Iterator[AuditRecord]:
    """Whole records in file order; a line still being written is skipped.

    A whole line that does not parse, or is not the line its record is written
    as (``decode_stored``), raises ``ValueError`` naming the file and line
    (verify reports it), or, given ``unreadable``, is handed to it as that
    description and passed over (a listing goes on past it)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith(b"\n"):
                return
            try:
                record = decode_stored(line)
            except ValueError as exc:  # name the place: verify reports it to the operator
                where = f"{path.name} line {number}: {exc}"
                if unreadable is None:
                    raise ValueError(where) from None
                unreadable(where)
                continue
            yield record


def links_from(path: Path, first_seq: int) -> Iterator[tuple[int, str, str]]:
    """(seq, id, hash) of the whole records in ``path``, last first, down to the
    first with a seq below ``first_seq`` (returned too, so the caller knows to stop).
    Reads the tail backwards: the cost is the records since ``first_seq``, not
    the file. A line that does not parse is passed over (verify reports it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        for line in _lines_backwards(fd, _last_newline(fd, os.fstat(fd).st_size)):
            try:
                data = json.loads(line)
                seq, record_id = int(data["seq"]), str(data["id"])
                digest = str(data.get("hash", ""))
            except (ValueError, TypeError, KeyError):
                continue
            yield seq, record_id, digest
            if seq < first_seq:
                return
    finally:
        os.close(fd)


def _lines_backwards(fd: int, end: int) -> Iterator[bytes]:
    """The non-empty lines of the file's first ``end`` bytes, last first, read in
    chunks from the end."""
    rest = b""  # the start of a line whose beginning is in an earlier chunk
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        parts = (os.pread(fd, end - start, start) + rest).split(b"\n")
        end = start
        rest = parts[0] if end > 0 else b""
        for line in reversed(parts[1:] if end > 0 else parts):
            if line.strip(b"\0"):
                yield line
