"""WORKERS>1: an audit chain found broken is the pod's, shared through files.

Each worker knows only the records it stored or saw stored, so only the worker
that saw a cut record finds the cut (``AuditChainBrokenError``); the others go on
and answer ``audit=ok``, and as probes land on any worker the pod's readiness
flapped. The worker that finds it writes ``<NOVAOS_RUN_DIR>/audit-chain/<worker
index>`` (the error's text), and every worker reports ``audit=down`` while any
such file exists. A worker removes its own when its sink takes records again (the
cut records restored); a worker that dies leaves its file, so only a fresh run
directory, the supervisor's at the next start of the pod, clears what nobody
resolved: a restart of one worker is no operator's decision to accept the cut.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

_log = logging.getLogger("novaos.audit")


def chain_alarm_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "audit-chain"


@dataclass
class FilePodChainAlarm:
    directory: Path
    worker: int
    _raised: bool = field(default=False, init=False)  # this process wrote its file
    _failing: bool = field(default=False, init=False)

    def raise_alarm(self, reason: str) -> None:
        """This worker found the chain broken; a write that fails is logged once,
        not raised (this worker answers down for itself anyway)."""
        tmp = self.directory / f".{self.worker}.tmp"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_text(reason)
            os.replace(tmp, self.directory / str(self.worker))
        except OSError as exc:
            if not self._failing:
                extra = {"component": "audit", "cause": f"{type(exc).__name__}: {exc.strerror}"}
                _log.warning("cannot tell the other workers the audit chain is broken",
                             extra=extra)  # fmt: skip
            self._failing = True
            return
        self._failing = False
        self._raised = True

    def clear(self) -> None:
        """This worker's sink took records again: its finding no longer holds."""
        if not self._raised:
            return  # the common case, every append: no system call
        try:
            (self.directory / str(self.worker)).unlink(missing_ok=True)
        except OSError:
            return  # still raised: tried again at the next append
        self._raised = False

    def raised(self) -> bool:
        """Has any worker of the pod found the chain broken (and not recovered)?"""
        try:
            with os.scandir(self.directory) as entries:
                return any(entry.name.isdigit() for entry in entries)
        except OSError:  # none yet (nothing found), or unreadable: this worker's own says
            return False
