"""Security headers on every response, and CORS: off by default, on for the configured
origins only."""

from collections.abc import Iterator

import httpx
import pytest

from tests.api import Api
from tests.services import Backend, Server, start_server

APP_ORIGIN = "https://app.example"
CSP = "default-src 'none'; frame-ancestors 'none'"


def assert_secure(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff", r.headers
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"


async def test_api_responses_carry_security_headers(api: Api) -> None:
    user = await api.user()
    responses = [
        await api.client.get("/healthz"),
        await api.client.get("/api/v1/me", headers=user.auth),
        await api.client.get("/api/v1/me"),  # 401 problem
        await api.client.post("/api/v1/events", json={}, headers=user.auth),  # 422 problem
        await api.client.get("/api/v1/nowhere"),  # 404 from the router
    ]
    for r in responses:
        assert_secure(r)
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["cache-control"] == "no-store"


async def test_stream_keeps_its_own_cache_control(api: Api) -> None:
    user = await api.user()
    event = await api.event(user)
    url = f"/api/v1/events/{event}/stream"
    async with api.client.stream("GET", url, headers=user.auth) as r:
        assert r.status_code == 200
        assert_secure(r)
        assert r.headers["cache-control"] == "no-cache, no-transform"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_keep_their_own_policy(api: Api, page: str) -> None:
    docs = await api.client.get(page)
    assert docs.status_code == 200
    assert_secure(docs)
    # they run scripts from this origin; tests/test_docs_pages.py checks the policy itself
    assert docs.headers["content-security-policy"].startswith("default-src 'self'")
    assert (await api.client.get("/openapi.json")).status_code == 200


async def test_cors_is_off_by_default(api: Api) -> None:
    r = await api.client.get("/healthz", headers={"Origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in r.headers
    preflight = await api.client.options(
        "/api/v1/events",
        headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


@pytest.fixture(scope="module")
def cors_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(backend, tmp_path_factory.mktemp("cors"), QUORUM_CORS_ORIGINS=APP_ORIGIN)
    yield server
    server.stop()


async def test_cors_allows_the_configured_origin_only(cors_server: Server) -> None:
    async with httpx.AsyncClient(base_url=cors_server.url, timeout=30) as client:
        r = await client.get("/healthz", headers={"Origin": APP_ORIGIN})
        assert r.headers["access-control-allow-origin"] == APP_ORIGIN
        assert_secure(r)
        r = await client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers

        requested = "authorization, content-type, idempotency-key, last-event-id"
        preflight = await client.options(
            "/api/v1/events",
            headers={
                "Origin": APP_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": requested,
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert all(h.strip() in allowed for h in requested.split(","))
        assert "POST" in preflight.headers["access-control-allow-methods"]

        refused = await client.options(
            "/api/v1/events",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
