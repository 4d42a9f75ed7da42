"""An invitation link's token travels in the path, which the access log writes: it is
redacted there, while the ids of the organizers' invitation routes stay readable."""

import secrets

from quorum.logs import REDACTED, redact_text

EVENT = "0193a6f2-8c1e-7d3a-9b41-5e2f0c7d8a10"


def test_the_token_of_an_invitation_path_is_redacted() -> None:
    token = secrets.token_urlsafe(32)
    for path in (f"/api/v1/invitations/{token}", f"/api/v1/invitations/{token}/accept"):
        redacted = redact_text(f"request path={path} status=201")
        assert token not in redacted
        assert f"/invitations/{REDACTED}" in redacted


def test_an_invitation_id_is_not_a_token() -> None:
    path = f"/api/v1/events/{EVENT}/invitations/{EVENT}"
    assert redact_text(path) == path
