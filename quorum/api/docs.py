"""The interactive API docs, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with no CDN.

FastAPI's own pages load their scripts and styles from a CDN, so on a machine without
internet they are blank. The same files come here from the ``fastapi-offline`` package
(which tracks the Swagger UI and ReDoc releases) and are served by the app under
``/docs/assets``. Since a page then loads nothing from another origin, it carries a
Content-Security-Policy that allows only 'self': its one inline script (Swagger UI's
start-up call) by hash, inline styles (both UIs set them at run time), ``data:`` images
(Swagger UI's icons) and a ``blob:`` worker (ReDoc's search index).

Swagger UI's OAuth2 redirect page is not served: the API's only flow is the password
flow, which needs no redirect.
"""

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
# No validator badge: it would send the spec to validator.swagger.io.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
PAGE_CSP = (
    "default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


def install(app: FastAPI) -> None:
    """Serve the assets and both pages. Create the app with ``docs_url=None,
    redoc_url=None`` so that FastAPI does not add its CDN-based ones."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
        return _with_policy(page)

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return _with_policy(page)


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page's CSP, allowing exactly the inline scripts it holds (by SHA-256)."""
    html = bytes(page.body).decode()
    hashes = "".join(f" '{_sha256(script)}'" for script in _INLINE_SCRIPT.findall(html))
    page.headers["Content-Security-Policy"] = PAGE_CSP.format(scripts=hashes)
    return page


def _sha256(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
