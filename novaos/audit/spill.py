"""The local spill file: records the sink could not take, in order, fsynced.

Held under an exclusive ``flock`` so two processes never share one spill
file: a worker that finds ``spill.jsonl`` taken uses ``spill-1.jsonl``, ...,
and whoever starts next picks up what a dead worker left. Records are
appended one fsynced write per batch; after a replay the file is emptied, or
replaced (write, fsync, rename) by what is still pending. Without a path
(the memory sink, which cannot fail) every spill attempt fails and the writer
holds records in memory.

Each open and each read checks the spill (``spill_check``): a spill that
fails is copied aside byte for byte to ``<name>.quarantined-<time>.jsonl``
and cut back to its sound prefix, with an error naming both; only that
prefix is stored. Quarantine files beside the spill count in ``quarantined``
until an operator moves them away.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from novaos.audit.chain import UNKEYED, ChainHead, ChainKeys
from novaos.audit.record import AuditRecord
from novaos.audit.sinks.jsonl import (
    fsync_dir,
    private_dir,
    repair_tail,
    unwritable,
    write_all,
)
from novaos.audit.spill_check import SpillCheck, check_spill
from novaos.errors import ConfigError

_MAX_SIBLINGS = 64
_QUARANTINED = ".quarantined-"

_log = logging.getLogger("novaos.audit")


class SpillFile:
    def __init__(
        self,
        path: Path | None,
        *,
        setting: str = "AUDIT_SPILL_PATH",
        keys: ChainKeys = UNKEYED,
    ) -> None:
        self.path = path or Path()
        self._enabled = path is not None
        self._setting = setting  # the variable the path came from, for start-up errors
        self._keys = keys  # what the writer seals with: spilled records must verify under it
        self._fd = -1
        self.count = 0
        self.head: ChainHead | None = None  # the last record in the spill at open
        self.quarantined = 0  # quarantine files beside the spill

    async def open(self) -> int:
        """Lock the file and count records left by a previous run."""
        return await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> int:
        if not self._enabled:
            return 0
        try:
            # Unset, AUDIT_SPILL_PATH lies in spill/ under AUDIT_FILE_PATH (see
            # app.spill_location), which the spill may be the first to make.
            audit_dir = self.path.parent.parent if self._setting == "AUDIT_FILE_PATH" else None
            private_dir(self.path.parent, top=audit_dir)
            self._lock_free_sibling()
        except OSError as exc:
            raise unwritable(self._setting, f"spill file {self.path}", exc) from None
        with contextlib.suppress(ValueError):  # a last line that does not parse or follow:
            repair_tail(self.path)  # the check below moves it aside
        records = self._read_sync()
        self.quarantined = sum(1 for _ in self.path.parent.glob(f"*{_QUARANTINED}*"))
        self.count = len(records)
        self.head = ChainHead(records[-1].seq, records[-1].hash) if records else None
        return self.count

    def _lock_free_sibling(self) -> None:
        wanted = self.path
        for n in range(_MAX_SIBLINGS):
            self.path = wanted if n == 0 else wanted.with_name(f"{wanted.stem}-{n}{wanted.suffix}")
            if self._try_lock():
                return
        raise ConfigError(
            f"invalid configuration: {self._setting}: {wanted} and its siblings are all in use"
        )

    def _try_lock(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # /dev/full, /dev/zero, a FIFO: reading
            os.close(fd)  # it back would never end, or never return what was written
            raise ConfigError(
                f"invalid configuration: {self._setting}: cannot write the spill file"
                f" {self.path}: not a regular file"
            )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def append(self, records: Sequence[AuditRecord]) -> None:
        if not self._enabled:
            raise OSError("no spill file configured")
        data = b"".join(r.line() for r in records)
        await asyncio.to_thread(self._append_sync, data)
        self.count += len(records)

    def _append_sync(self, data: bytes) -> None:
        size = os.fstat(self._fd).st_size
        try:
            write_all(self._fd, data)
            os.fsync(self._fd)
        except BaseException:
            os.ftruncate(self._fd, size)  # never leave half a batch behind
            raise

    async def read(self) -> list[AuditRecord]:
        """The spilled records, checked: a spill that fails is quarantined first."""
        if not self._enabled:
            return []
        return await asyncio.to_thread(self._read_sync)

    def _read_sync(self) -> list[AuditRecord]:
        with self.path.open("rb") as handle:
            check = check_spill((line for line in handle if line.endswith(b"\n")), self._keys)
        if check.problem:
            self._quarantine_sync(check)
        return check.records

    def _quarantine_sync(self, check: SpillCheck) -> None:
        """Copy the spill aside as found, then keep only its sound prefix."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(
            f"{self.path.stem}{_QUARANTINED}{stamp}-{time.time_ns() % 10**9:09d}{self.path.suffix}"
        )
        # Owner-only like the spill itself (copyfile would make it with the umask's
        # 0644): it holds the same prompts, answers and pseudonyms, and is kept for long.
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with self.path.open("rb") as source:
                while chunk := source.read(1 << 20):
                    write_all(fd, chunk)
            os.fsync(fd)
        except OSError as exc:
            # A full disk must not leave a partial copy (one more at each start, each
            # counted as evidence): the spill is kept whole, and the error names both.
            aside.unlink(missing_ok=True)
            raise OSError(exc.errno, exc.strerror, str(self.path), None, str(aside)) from exc
        finally:
            os.close(fd)
        fsync_dir(self.path.parent)  # the copy is durable before the spill is cut
        self._replace_sync(b"".join(r.line() for r in check.records))
        self.count = len(check.records)
        self.quarantined += 1
        _log.error(
            "audit: spill file %s failed its check (%s): copied as found to %s; the %d records"
            " before that line will be stored, the %d lines from it on are not: investigate"
            " (docs/operations.md, Spill file quarantined)",
            self.path, check.problem, aside, len(check.records), check.lines,
        )  # fmt: skip

    async def replace(self, records: Sequence[AuditRecord]) -> None:
        """Keep only ``records`` (the part not yet replayed)."""
        if not self._enabled:
            return
        await asyncio.to_thread(self._replace_sync, b"".join(r.line() for r in records))
        self.count = len(records)

    def _replace_sync(self, data: bytes) -> None:
        if not data:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
            return
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            write_all(fd, data)
            os.fsync(fd)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not also keep a half copy
            raise
        finally:
            os.close(fd)
        # Rename swaps the inode under our lock fd: reopen and re-lock the new one.
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        old = self._fd
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.close(old)

    async def aclose(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
