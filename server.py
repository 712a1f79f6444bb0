"""Entry point: ``python server.py`` starts NovaOS from the environment."""

from novaos.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve"]))
