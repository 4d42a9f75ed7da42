"""The decision rules, in one place: which status may follow which, and when a vote
accepts a proposal. Every path that changes a status asks this module, the SQL
conditional updates included (``sources_of``).
"""

from quorum.decisions.models import MembershipStatus, ProposalStatus
from quorum.errors import Conflict

PROPOSAL_TRANSITIONS: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    ProposalStatus.PENDING: frozenset(
        {ProposalStatus.ACCEPTED, ProposalStatus.REJECTED, ProposalStatus.DELETED}
    ),
}
MEMBERSHIP_TRANSITIONS: dict[MembershipStatus, frozenset[MembershipStatus]] = {
    MembershipStatus.PENDING: frozenset({MembershipStatus.APPROVED, MembershipStatus.REJECTED}),
}
# Votes are cast and withdrawn only while the proposal is still undecided.
VOTABLE = ProposalStatus.PENDING


def check_proposal_transition(current: str, target: str) -> None:
    if ProposalStatus(target) not in PROPOSAL_TRANSITIONS.get(ProposalStatus(current), frozenset()):
        raise Conflict("invalid_transition", f"A proposal cannot go from {current} to {target}.")


def check_membership_transition(current: str, target: str) -> None:
    allowed = MEMBERSHIP_TRANSITIONS.get(MembershipStatus(current), frozenset())
    if MembershipStatus(target) not in allowed:
        raise Conflict(
            "membership_already_decided",
            f"A membership request cannot go from {current} to {target}.",
        )


def sources_of(target: ProposalStatus) -> list[str]:
    """Statuses a proposal may move to ``target`` from, for a conditional UPDATE."""
    return [s.value for s, targets in PROPOSAL_TRANSITIONS.items() if target in targets]


def reaches_threshold(vote_count: int, threshold: int | None) -> bool:
    return threshold is not None and vote_count >= threshold
