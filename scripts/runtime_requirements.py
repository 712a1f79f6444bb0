"""Print the runtime requirements from pyproject.toml, one per line.

The image installs these with ``-c requirements.lock``: the lock pins every version
(and was compiled with the dev extra), the pyproject list says which of them the
service needs at run time, so test and build tools never reach the image.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def runtime_requirements(pyproject: Path) -> list[str]:
    with pyproject.open("rb") as fh:
        project = tomllib.load(fh)["project"]
    return [str(req) for req in project["dependencies"]]


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path("pyproject.toml")
    print("\n".join(runtime_requirements(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
