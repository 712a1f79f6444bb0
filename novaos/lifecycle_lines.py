"""The plain ``novaos: …`` life-cycle lines a serving process writes on stdout.

Each line is one write, its line break included: the workers share the
supervisor's stdout, and under PYTHONUNBUFFERED (the image's) ``print`` writes
the text and its line break apart, so two workers draining at once wrote
``novaos: drainingnovaos: draining`` and an empty line.
"""

from __future__ import annotations

import sys


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def say_as(worker: int | None, event: str) -> None:
    """``novaos: <event>``, or ``novaos: worker N <event>`` from worker N of a supervisor."""
    say(f"novaos: {event}" if worker is None else f"novaos: worker {worker} {event}")
