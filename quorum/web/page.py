"""Serving the page: ``/`` is its one HTML document, ``/static`` its ES modules, styles
and translations, compressed (gzip) since the first visit loads them all.

The page is a client of the public API like any other (it adds no private endpoint);
it signs in with the browser session cookie. Its document carries a strict
Content-Security-Policy: scripts and styles from this origin only, no inline script nor
style attribute, requests only to this origin. Everything the page shows is routed in
the browser (``/#/events/{id}``), so an invitation link is ``/#/join/{token}``.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse, Response

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def install(app: FastAPI) -> None:
    app.mount(
        STATIC_URL,
        GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=500),
        name="static",
    )

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> Response:
        response = FileResponse(STATIC_DIR / "index.html", media_type="text/html")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["Cache-Control"] = "no-cache"
        return response
