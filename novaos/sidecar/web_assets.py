"""The chat page's files, turned into Envoy direct responses at render time.

Envoy serves the page itself (no extra process): every file under WEB_ROOT
becomes one route with its body inlined. The dev token is written into the
page only when NODE_ENV=development, so no other environment can leak it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
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
        if file.suffix == ".html":
            body = body.replace(DEV_TOKEN_MARKER, html.escape(dev_token or "", quote=True))
        assets.append(WebAsset(f"/{file.name}", content_type, body))
        if file.name == "index.html":
            assets.append(WebAsset("/", content_type, body))
    if not any(a.path == "/" for a in assets):
        raise ConfigError(f"invalid configuration: WEB_ROOT: {web_root} has no index.html")
    return assets
