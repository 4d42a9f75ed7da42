"""The interactive docs (/docs, /redoc) work without internet: every script, style sheet
and icon they load is served by the app itself, and their Content-Security-Policy allows
nothing else."""

import base64
import hashlib
import re
from urllib.parse import urljoin

import httpx
import pytest

from tests.api import Api

# The URLs a page loads: src= and href= attributes, and the spec URL ReDoc is given.
_LOADED = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""")
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)
_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def _directives(csp: str) -> dict[str, list[str]]:
    parts = (d.split() for d in csp.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_same_origin_assets(api: Api, page: str) -> None:
    r = await api.client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "http://" not in html and "https://" not in html, html  # no other host
    urls = _LOADED.findall(html)
    assets = [u for u in urls if not u.endswith("openapi.json")]
    assert any(u.endswith(".js") for u in assets), urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
    for url in assets:
        asset = await api.client.get(urljoin(page, url))
        assert asset.status_code == 200, url
        suffix = url[url.rfind(".") :]
        assert _TYPES[suffix] in asset.headers["content-type"], (url, asset.headers)
        assert len(asset.content) > 1000, url


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_allow_only_their_own_origin(api: Api, page: str) -> None:
    r = await api.client.get(page)
    policy = _directives(r.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for sources in policy.values():
        assert not any(s.startswith(("http", "*")) or s == "'unsafe-eval'" for s in sources)
    scripts = policy.get("script-src", policy["default-src"])
    assert "'unsafe-inline'" not in scripts
    for inline in _INLINE_SCRIPT.findall(r.text):  # Swagger UI's start-up script
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in scripts, policy


async def test_unknown_docs_asset_is_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs/assets/nothing.js")
    assert r.status_code == 404
