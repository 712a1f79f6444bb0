"""What the audit writer reports: a status snapshot and an observer hook.

The observer is how metrics see the writer without the audit package
importing prometheus: the composition root passes an adapter; the default
does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AuditStatus:
    sink: str  # memory | file | database
    status: str  # ok | spilling | down | quarantined (down and spilling take precedence)
    queue_depth: int
    spilled: int
    quarantined: int = 0  # quarantine files beside the spill, whatever the status
    written: int = 0
    head_seq: int = 0
    watchers: int = 0


class AuditObserver(Protocol):
    def on_queue_depth(self, depth: int) -> None: ...

    def on_spill(self, spilled: int, *, spilling: bool) -> None: ...

    def on_written(self, count: int) -> None: ...

    def on_sink_error(self, sink: str, error: BaseException) -> None: ...

    def on_quarantine(self, files: int) -> None:
        """Spill files moved aside because they failed their check (see spill_check)."""
        ...


class ChainAlarm(Protocol):
    """WORKERS>1: a broken chain found by one worker is every worker's (readiness is
    the pod's; ``novaos.pod_audit``)."""

    def raise_alarm(self, reason: str) -> None: ...

    def clear(self) -> None:
        """This process's sink took records again: withdraw what it raised."""
        ...

    def raised(self) -> bool:
        """Has any process sharing the alarm found the chain broken?"""
        ...


class NullAuditObserver:
    def on_queue_depth(self, depth: int) -> None:
        return None

    def on_spill(self, spilled: int, *, spilling: bool) -> None:
        return None

    def on_written(self, count: int) -> None:
        return None

    def on_sink_error(self, sink: str, error: BaseException) -> None:
        return None

    def on_quarantine(self, files: int) -> None:
        return None
