"""WORKERS>1: whether each worker has a usable provider circuit, shared through files.

Breakers are per worker process, but readiness is the pod's: the kubelet's probe
and Envoy's health check land on whichever worker accepts their connection, so a
worker answering for itself made the pod flap from probe to probe. Each worker
writes its own state to ``<NOVAOS_RUN_DIR>/circuits/<worker index>`` at every
readiness tick and reads the others', so every worker gives the same answer.

A file not rewritten for ``stale_after_s`` (a worker stopped or wedged) counts as no
usable circuit; the supervisor removes a dead worker's file when it reaps it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_log = logging.getLogger("novaos.health")
_USABLE, _ALL_OPEN = "1", "0"


def circuits_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "circuits"


def forget_worker(run_dir: str | Path, index: int) -> None:
    """A dead worker's state no longer counts (the supervisor, at its death)."""
    (circuits_dir(run_dir) / str(index)).unlink(missing_ok=True)


@dataclass
class FilePodCircuits:
    directory: Path
    worker: int
    stale_after_s: float = 5.0
    clock: Callable[[], float] = time.time  # compared with the files' mtime
    _failing: bool = field(default=False, init=False)

    def publish(self, usable: bool) -> None:
        """This worker's state; a write that fails is logged once, not raised: the
        others then see this worker's file go stale (no usable circuit)."""
        tmp = self.directory / f".{self.worker}.tmp"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_text(_USABLE if usable else _ALL_OPEN)
            os.replace(tmp, self.directory / str(self.worker))
        except OSError as exc:
            if not self._failing:
                extra = {"component": "health", "cause": f"{type(exc).__name__}: {exc.strerror}"}
                _log.warning("cannot publish this worker's circuit state", extra=extra)
            self._failing = True
            return
        self._failing = False

    def others_usable(self) -> bool:
        """Does another live worker of the pod have a usable circuit?"""
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return False
        now = self.clock()
        for entry in entries:
            if not entry.name.isdigit() or entry.name == str(self.worker):
                continue
            try:
                fresh = now - entry.stat().st_mtime <= self.stale_after_s
                if fresh and Path(entry.path).read_text() == _USABLE:
                    return True
            except OSError:  # removed meanwhile: a worker that just died
                continue
        return False

    def withdraw(self) -> None:
        """At drain: this worker no longer serves."""
        (self.directory / str(self.worker)).unlink(missing_ok=True)
