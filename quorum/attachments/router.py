"""HTTP routes of attachments (prefix /api/v1).

The upload is not a ``TransactionalRoute``: a transaction held open while hundreds of
megabytes arrive would hold a pool connection (and SQLite's write lock) for all that
time. It checks access in a read-only transaction, streams the file into the blob store
with no transaction open, and writes the row in a short one of its own; if that fails,
the object is deleted again. The other routes are ordinary transactional routes: the
download's transaction ends before its body streams, and the deletion's object goes
after the commit (a background task runs once the response has been sent).
"""

import uuid
from typing import Annotated
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse

from quorum.api.deps import SessionDep, TokenCaller
from quorum.api.errors import problem
from quorum.api.pagination import Page, page, page_params
from quorum.api.problems import (
    AUTH,
    CSRF_FAILED,
    DATABASE,
    NO_BODY,
    PAGE,
    STORAGE_UNAVAILABLE,
    VALIDATION_ERROR,
    problems,
)
from quorum.api.routing import TransactionalRoute
from quorum.attachments import repository as repo
from quorum.attachments import service
from quorum.attachments.models import object_key
from quorum.attachments.problems import (
    ATTACHMENT_NOT_FOUND,
    ATTACHMENT_TOO_LARGE,
    FILENAME_REQUIRED,
    INVALID_MULTIPART,
    NOT_ALLOWED_ATTACHMENT,
    PROPOSAL_DELETED,
    QUOTA_EXCEEDED,
    RANGE_NOT_SATISFIABLE,
    UNSUPPORTED_TYPE,
)
from quorum.attachments.ranges import RangeNotSatisfiable, byte_range
from quorum.attachments.schemas import AttachmentOut
from quorum.attachments.upload import open_upload
from quorum.db.base import uuid7
from quorum.db.repository import PageParams
from quorum.db.uow import UnitOfWork, read_only
from quorum.decisions.access import EventMember, load_access
from quorum.decisions.problems import (
    EVENT_CLOSED,
    EVENT_NOT_FOUND,
    MEMBER,
    NOT_A_MEMBER,
    PROPOSAL_NOT_FOUND,
)
from quorum.settings import Settings
from quorum.storage.store import BlobStore

log = structlog.get_logger(__name__)
UPLOAD_PATH = "/events/{event_id}/proposals/{proposal_id}/attachments"
# The download and deletion name no event: access follows from the attachment's row.
BY_ID = (*AUTH, VALIDATION_ERROR, ATTACHMENT_NOT_FOUND, EVENT_NOT_FOUND, NOT_A_MEMBER, DATABASE)
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

upload_router = APIRouter(tags=["attachments"])
router = APIRouter(route_class=TransactionalRoute, tags=["attachments"])


@upload_router.post(
    UPLOAD_PATH,
    status_code=201,
    responses=problems(
        MEMBER,
        PROPOSAL_NOT_FOUND,
        PROPOSAL_DELETED,
        EVENT_CLOSED,
        ATTACHMENT_TOO_LARGE,
        QUOTA_EXCEEDED,
        UNSUPPORTED_TYPE,
        FILENAME_REQUIRED,
        INVALID_MULTIPART,
        STORAGE_UNAVAILABLE,
        CSRF_FAILED,  # not a TransactionalRoute, which adds it by itself
    ),
    openapi_extra=_UPLOAD_BODY,
    response_model=AttachmentOut,
)
async def upload_attachment(
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    request: Request,
    caller: TokenCaller,
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> AttachmentOut | Response:
    """Attach a file to a proposal (members): a multipart form with one file part, or the
    file itself as the body with ``?filename=``. Its kind is read from its first bytes:
    PNG, JPEG, GIF, WebP, PDF or UTF-8 text (415 otherwise); at most
    ``QUORUM_MAX_ATTACHMENT_BYTES`` (413) and the event's quota (409). Logs
    ``attachment.added``."""
    settings: Settings = request.app.state.settings
    store: BlobStore = request.app.state.blobs
    declared = request.headers.get("content-length")
    async with read_only(request.app.state.sessionmaker) as session:
        access = await load_access(event_id, caller, session)
        size_hint = int(declared) if declared and declared.isdigit() else None
        quota = settings.max_event_attachment_bytes
        await service.check_can_attach(session, access, proposal_id, size_hint, quota)
    stored_id = uuid7()
    key = object_key(event_id, stored_id)
    try:
        incoming = await open_upload(request, settings.max_attachment_bytes, filename)
        await store.put(key, incoming.chunks())  # all or nothing: a cut upload stores none
    except ClientDisconnect:
        log.info("upload_cut", event_id=str(event_id), proposal_id=str(proposal_id))
        return Response(status_code=400)  # nobody is left to read it
    stored = service.StoredFile(stored_id, incoming.filename, incoming.content_type, incoming.size)
    uow: UnitOfWork = request.app.state.uow
    try:
        async with uow.transaction() as session:
            access = await load_access(event_id, caller, session)
            return await service.add(session, access, proposal_id, stored, quota)
    except BaseException:
        await delete_object(store, key)
        raise


async def delete_object(store: BlobStore, key: str) -> None:
    """Delete an object that has (or will have) no row; if the store fails, the sweeper
    removes it later, so the failure is only logged."""
    try:
        await store.delete(key)
    except Exception as exc:
        log.warning("blob_delete_failed", key=key, error=repr(exc))


@router.get(UPLOAD_PATH, responses=problems(MEMBER, PAGE, PROPOSAL_NOT_FOUND))
async def list_attachments(
    proposal_id: uuid.UUID,
    access: EventMember,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[AttachmentOut]:
    """The proposal's attachments, oldest first."""
    rows = await service.list_attachments(session, access, proposal_id, params)
    return page(rows, service.out)


@router.get(
    "/attachments/{attachment_id}",
    responses=problems(BY_ID, RANGE_NOT_SATISFIABLE, STORAGE_UNAVAILABLE),
    response_class=StreamingResponse,
)
async def download_attachment(
    attachment_id: uuid.UUID, request: Request, caller: TokenCaller, session: SessionDep
) -> Response:
    """The file (members of its event), streamed, with ``Content-Disposition``. A single
    ``Range: bytes=...`` is answered 206 with ``Content-Range``; a range beyond the end,
    416."""
    row = await repo.get_attachment(session, attachment_id)
    await load_access(row.event_id, caller, session)
    try:
        wanted = byte_range(request.headers.get("range"), row.size)
    except RangeNotSatisfiable as exc:
        headers = {"Content-Range": f"bytes */{exc.size}"}
        return problem(416, exc.code, exc.detail, headers=headers)
    start, end = wanted or (0, row.size)
    store: BlobStore = request.app.state.blobs
    try:
        chunks = await store.get(object_key(row.event_id, row.id), start, end)
    except FileNotFoundError:
        raise repo.attachment_not_found() from None
    headers = {
        "Content-Length": str(end - start),
        "Content-Disposition": content_disposition(row.filename),
        "Accept-Ranges": "bytes",
    }
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{row.size}"
    media_type = row.content_type + ("; charset=utf-8" if row.content_type == "text/plain" else "")
    status = 206 if wanted is not None else 200
    return StreamingResponse(chunks, status, headers=headers, media_type=media_type)


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact one in RFC 5987 form."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


@router.delete(
    "/attachments/{attachment_id}",
    status_code=204,
    responses=problems(BY_ID, NO_BODY, NOT_ALLOWED_ATTACHMENT, EVENT_CLOSED),
)
async def delete_attachment(
    attachment_id: uuid.UUID, request: Request, caller: TokenCaller, session: SessionDep
) -> Response:
    """Delete an attachment (its author, an organizer or an admin); logs
    ``attachment.removed``. Its bytes go once the deletion has committed."""
    row = await repo.get_attachment(session, attachment_id, for_update=True)
    access = await load_access(row.event_id, caller, session)
    key = await service.remove(session, access, row)
    store: BlobStore = request.app.state.blobs
    return Response(status_code=204, background=BackgroundTask(delete_object, store, key))
