"""GraphiQL from civicgrid's own files: the page and its assets (graphiql, react, react-dom, the explorer plugin)
vendored in api/static/graphiql/ at the versions and sha256 of pins.json (scripts/update_graphiql.py), served
under /graphiql/static/ with subresource integrity. Nothing is loaded from a CDN."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import cached_property
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "static" / "graphiql"
TEMPLATE = HERE / "templates" / "graphiql.html"
PREFIX = "/graphiql/static"
_TAG = re.compile(r'(src|href)="\{\{([\w.-]+)\}\}"')


class GraphiQLAssets:
    """The GraphiQL page (rendered once) and the route serving its assets."""

    @cached_property
    def served(self) -> dict[str, str]:
        """Served file name -> pinned sha256."""
        pins = json.loads((ASSETS / "pins.json").read_text())
        return {served: digest for pkg in pins["packages"] for served, digest in pkg["files"].values()}

    @cached_property
    def html(self) -> str:
        def tag(match: re.Match[str]) -> str:
            name = match.group(2)
            if name not in self.served:
                raise RuntimeError(f"{TEMPLATE.name} names {name}, which pins.json does not pin")
            data = (ASSETS / name).read_bytes()
            sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
            version = self.served[name][:12]  # a new file is a new URL, whatever the browser cached
            return f'{match.group(1)}="{PREFIX}/{name}?v={version}" integrity="{sri}"'

        return _TAG.sub(tag, TEMPLATE.read_text(encoding="utf-8"))

    def page(self) -> HTMLResponse:
        return HTMLResponse(self.html, headers={"Cache-Control": "no-cache"})

    def route(self) -> Mount:
        return Mount(PREFIX, StaticFiles(directory=ASSETS), name="graphiql-static")
