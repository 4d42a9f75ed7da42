"""The errors of the decisions routes, for their OpenAPI description (quorum/api/problems.py).

The details are examples in the words the services use; the codes are the contract.
"""

from quorum.api.problems import AUTH, DATABASE, IDEMPOTENT, VALIDATION_ERROR, Case

EVENT_NOT_FOUND = Case(404, "event_not_found", "No such event.")
NOT_A_MEMBER = Case(403, "not_a_member", "You are not an approved member of this event.")
ADMIN_REQUIRED = Case(403, "admin_required", "Only the event's organizer or an admin may do this.")
NOT_ALLOWED = Case(403, "not_allowed", "Only an organizer or admin (or the author, to delete) may.")
ORGANIZER_REQUIRED = Case(403, "organizer_required", "Only the event's organizer may do this.")
ORGANIZER_MEMBERSHIP_FIXED = Case(
    403, "organizer_membership_fixed", "The organizer's membership cannot change."
)
VOTES_ANONYMOUS = Case(
    403, "votes_anonymous", "Votes in this event are anonymous: voters are not shown."
)
TALLIES_HIDDEN = Case(
    403,
    "tallies_hidden",
    "This event hides its vote counts until it closes: no sort=most_votes for members.",
)
TICKET_WRONG_EVENT = Case(403, "ticket_wrong_event", "This stream ticket is for another event.")
PROPOSAL_NOT_FOUND = Case(404, "proposal_not_found", "No such proposal in this event.")
MEMBERSHIP_NOT_FOUND = Case(404, "membership_not_found", "No such membership in this event.")
VOTE_NOT_FOUND = Case(404, "vote_not_found", "You have no vote on this proposal.")
EVENT_CLOSED = Case(409, "event_closed", "The event is closed: it accepts no changes.")
MEMBERSHIP_EXISTS = Case(
    409, "membership_exists", "You already have a membership or a request for this event."
)
ORGANIZER_CANNOT_LEAVE = Case(
    409, "organizer_cannot_leave", "The organizer cannot leave the event they organize."
)
MEMBERSHIP_ALREADY_DECIDED = Case(
    409,
    "membership_already_decided",
    "A membership request cannot go from APPROVED to REJECTED.",
)
ALREADY_VOTED = Case(409, "already_voted", "You have already voted for this proposal.")
PROPOSAL_NOT_PENDING = Case(
    409, "proposal_not_pending", "The proposal is ACCEPTED: votes count only while PENDING."
)
INVALID_TRANSITION = Case(
    409, "invalid_transition", "A proposal cannot go from ACCEPTED to REJECTED."
)
PROPOSAL_DELETED = Case(409, "proposal_deleted", "The proposal was deleted: it takes no comments.")
PROPOSAL_HAS_VOTES = Case(
    409, "proposal_has_votes", "The proposal has votes: it can no longer be edited."
)
PROPOSAL_NOT_EDITABLE = Case(
    409,
    "proposal_not_pending",
    "The proposal is ACCEPTED: it cannot be edited.",
    name="proposal_not_pending (edit)",
)
NOT_AUTHOR = Case(403, "not_author", "Only its author may edit this.")
NOT_ALLOWED_COMMENT = Case(
    403,
    "not_allowed",
    "Only its author, an organizer or an admin may delete a comment.",
)
COMMENT_NOT_FOUND = Case(404, "comment_not_found", "No such comment on this proposal.")
COMMENT_DELETED = Case(409, "comment_deleted", "The comment was deleted.")
STATUS_OR_CONTENT = Case(
    422, "status_or_content", "Change the status, or title and body: not both."
)
EMPTY_UPDATE = Case(422, "empty_update", "Send at least one field to change.")
TITLE_REQUIRED = Case(422, "title_required", "An event's title cannot be null.")
STATUS_REQUIRED = Case(422, "status_required", "An event's status cannot be null.")
ALLOW_EDITS_REQUIRED = Case(
    422, "allow_edits_with_votes_required", "An event's allow_edits_with_votes cannot be null."
)
CLOSES_AT_NOT_FUTURE = Case(422, "closes_at_not_future", "closes_at must lie in the future.")
OPTION_FIXED = Case(422, "option_fixed", "anonymous_votes is chosen when the event is created.")
INVALID_LAST_EVENT_ID = Case(
    422, "invalid_last_event_id", "Last-Event-ID must be a non-negative integer."
)
AFTER_NEEDS_ASC = Case(
    422,
    "log_order_mismatch",
    "after pages oldest first: with order=desc, continue with before.",
    name="log_order_mismatch (after)",
)
BEFORE_NEEDS_DESC = Case(
    422,
    "log_order_mismatch",
    "before pages newest first: send order=desc with it, or continue with after.",
    name="log_order_mismatch (before)",
)

# Every event-scoped route: the caller's token, the event id in the path, the membership.
MEMBER = (*AUTH, VALIDATION_ERROR, EVENT_NOT_FOUND, NOT_A_MEMBER, DATABASE)
ADMIN = (*MEMBER, ADMIN_REQUIRED)
# Every change to an event: it may carry an Idempotency-Key, and its log entry is
# refused once the event is closed.
CHANGE = (*IDEMPOTENT, EVENT_CLOSED)
