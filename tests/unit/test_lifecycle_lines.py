"""Life-cycle lines are single writes, line break included: workers share stdout."""

from __future__ import annotations

import pytest

from novaos.lifecycle_lines import say, say_as


class Recording:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_each_line_is_one_write_and_a_workers_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Recording()
    monkeypatch.setattr("sys.stdout", out)
    say_as(None, "draining")
    say_as(1, "draining")
    say("novaos: supervisor stopped")
    assert out.writes == [
        "novaos: draining\n",  # a single process: as README shows it
        "novaos: worker 1 draining\n",
        "novaos: supervisor stopped\n",
    ]
