"""The errors of the invitation routes, for their OpenAPI description."""

from quorum.api.problems import Case

INVITATION_NOT_FOUND = Case(404, "invitation_not_found", "No such invitation.")
INVITATION_EXPIRED = Case(410, "invitation_expired", "This invitation has expired.")
INVITATION_REVOKED = Case(410, "invitation_revoked", "This invitation was revoked.")
INVITATION_USED_UP = Case(410, "invitation_used_up", "This invitation has no uses left.")
# What opening or accepting a link answers when the link cannot be used.
UNUSABLE = (INVITATION_NOT_FOUND, INVITATION_EXPIRED, INVITATION_REVOKED, INVITATION_USED_UP)
