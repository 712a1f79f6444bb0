"""The chat page's files, turned into Envoy direct responses at render time.

Envoy serves the page itself (no extra process): every file under WEB_ROOT
becomes one route with its body inlined. The dev token is written into the
page only when NODE_ENV=development, so no other environment can leak it, and a
page that holds it is served from an owner-only file (``WebAsset.file``), never
inlined: Envoy's admin ``/config_dump`` shows every inline body, and its admin
port checks no Host (a DNS-rebinding site could read it there).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, replace
from pathlib import Path

from novaos.errors import ConfigError

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
DEV_TOKEN_MARKER = "{{DEV_TOKEN}}"
MAX_ASSET_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class WebAsset:
    path: str  # URL path, e.g. "/app.js"
    content_type: str
    body: str
    holds_token: bool = False  # the dev token is written into ``body``
    file: Path | None = None  # served from this file (``body`` written there), not inlined


def load_web_assets(web_root: Path, *, dev_token: str | None) -> list[WebAsset]:
    """Read the page's files; ``index.html`` is also served at ``/``."""
    if not web_root.is_dir():
        raise ConfigError(f"invalid configuration: WEB_ROOT: {web_root} is not a directory")
    assets: list[WebAsset] = []
    for file in sorted(web_root.iterdir()):
        content_type = _TYPES.get(file.suffix)
        if content_type is None or not file.is_file():
            continue
        body = file.read_text(encoding="utf-8")
        if len(body.encode()) > MAX_ASSET_BYTES:
            raise ConfigError(f"invalid configuration: WEB_ROOT: {file.name} exceeds 512 KiB")
        holds_token = bool(dev_token) and file.suffix == ".html" and DEV_TOKEN_MARKER in body
        if file.suffix == ".html":
            body = body.replace(DEV_TOKEN_MARKER, html.escape(dev_token or "", quote=True))
        assets.append(WebAsset(f"/{file.name}", content_type, body, holds_token))
        if file.name == "index.html":
            assets.append(WebAsset("/", content_type, body, holds_token))
    if not any(a.path == "/" for a in assets):
        raise ConfigError(f"invalid configuration: WEB_ROOT: {web_root} has no index.html")
    return assets


def served_from_files(assets: list[WebAsset], directory: Path) -> list[WebAsset]:
    """``assets`` with each one that holds the dev token to be served from a file
    of its own in ``directory`` (which the caller writes, owner-only)."""
    return [
        replace(a, file=directory / (a.path.strip("/") or "index.html")) if a.holds_token else a
        for a in assets
    ]


def write_asset_files(assets: list[WebAsset]) -> None:
    """Write the files ``served_from_files`` named, readable by their owner only
    (a file there before keeps no wider mode)."""
    for asset in assets:
        if asset.file is None:
            continue
        asset.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        asset.file.parent.chmod(0o700)
        asset.file.unlink(missing_ok=True)
        fd = os.open(asset.file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(asset.body)
