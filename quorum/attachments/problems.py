"""The errors of the attachment routes, for their OpenAPI description."""

from quorum.api.problems import Case

ATTACHMENT_NOT_FOUND = Case(404, "attachment_not_found", "No such attachment.")
ATTACHMENT_TOO_LARGE = Case(
    413, "attachment_too_large", "The file exceeds 52428800 bytes (QUORUM_MAX_ATTACHMENT_BYTES)."
)
QUOTA_EXCEEDED = Case(
    409,
    "attachment_quota_exceeded",
    "The event's attachments would exceed 1073741824 bytes; delete some first.",
)
UNSUPPORTED_TYPE = Case(
    415,
    "unsupported_attachment_type",
    "Attachments may be PNG, JPEG, GIF, WebP, PDF or plain text; this file is none of them.",
)
FILENAME_REQUIRED = Case(
    422, "filename_required", "Send the file as multipart/form-data, or ?filename= with a raw body."
)
RANGE_NOT_SATISFIABLE = Case(
    416, "range_not_satisfiable", "The range starts beyond the file's 1234 bytes."
)
NOT_ALLOWED_ATTACHMENT = Case(
    403, "not_allowed", "Only its author, an organizer or an admin may delete an attachment."
)
INVALID_MULTIPART = Case(422, "invalid_multipart", "multipart/form-data needs a boundary.")
PROPOSAL_DELETED = Case(
    409,
    "proposal_deleted",
    "The proposal was deleted: it takes no attachments.",
    name="proposal_deleted (attachment)",
)
