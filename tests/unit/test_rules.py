"""The decision rules on their own, and the SQL form of each rule that a statement
enforces, evaluated by SQLite against the Python form."""

import contextlib
import sqlite3
from typing import Any

import pytest
from sqlalchemy import ColumnElement, literal, select
from sqlalchemy.dialects import sqlite

from quorum.decisions import rules
from quorum.decisions.models import EventStatus, MembershipStatus, ProposalStatus, Role
from quorum.errors import Conflict, PermissionDenied


def evaluate(condition: ColumnElement[bool]) -> bool:
    sql = select(condition).compile(
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
    )
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        row: Any = db.execute(str(sql)).fetchone()
    return bool(row[0])


@pytest.mark.parametrize("count", [0, 1, 2, 3])
@pytest.mark.parametrize("threshold", [1, 2, 3])
def test_threshold_in_sql_is_the_threshold_in_python(count: int, threshold: int) -> None:
    in_sql = evaluate(rules.reaches_threshold_sql(literal(count), threshold))
    assert in_sql is rules.reaches_threshold(count, threshold)


def test_no_threshold_accepts_nothing() -> None:
    assert not rules.reaches_threshold(1_000, None)
    assert not rules.threshold_change_accepts(None, None)
    assert not rules.threshold_change_accepts(2, EventStatus.CLOSED)
    assert rules.threshold_change_accepts(2, EventStatus.OPEN)


@pytest.mark.parametrize("status", list(ProposalStatus))
def test_votable_in_sql_is_votable_in_python(status: ProposalStatus) -> None:
    assert evaluate(rules.votable_sql(literal(status.value))) is (status == rules.VOTABLE)


@pytest.mark.parametrize("status", list(EventStatus))
def test_only_an_open_event_accepts_changes(status: EventStatus) -> None:
    assert evaluate(rules.accepts_changes_sql(literal(status.value))) is (
        status == EventStatus.OPEN
    )


@pytest.mark.parametrize("status", list(MembershipStatus))
def test_only_an_approved_membership_is_a_member(status: MembershipStatus) -> None:
    assert evaluate(rules.is_member_sql(literal(status.value))) is rules.is_member(status)
    assert rules.is_member(status) is (status == MembershipStatus.APPROVED)


def test_a_closed_event_changes_only_by_reopening() -> None:
    rules.check_event_change(EventStatus.CLOSED, EventStatus.OPEN)
    rules.check_event_change(EventStatus.OPEN, None)
    with pytest.raises(Conflict, match="reopen"):
        rules.check_event_change(EventStatus.CLOSED, None)


def test_a_decided_proposal_is_final() -> None:
    rules.check_proposal_transition(ProposalStatus.PENDING, ProposalStatus.ACCEPTED)
    for decided in (ProposalStatus.ACCEPTED, ProposalStatus.REJECTED, ProposalStatus.DELETED):
        with pytest.raises(Conflict) as refused:
            rules.check_proposal_transition(decided, ProposalStatus.DELETED)
        assert refused.value.code == "invalid_transition"


def test_a_decided_membership_is_final() -> None:
    rules.check_membership_transition(MembershipStatus.PENDING, MembershipStatus.REJECTED)
    with pytest.raises(Conflict):
        rules.check_membership_transition(MembershipStatus.APPROVED, MembershipStatus.REJECTED)


def test_who_may_decide() -> None:
    rules.check_may_decide(Role.ADMIN, False, ProposalStatus.ACCEPTED)
    rules.check_may_decide(Role.MEMBER, True, ProposalStatus.DELETED)
    for role, author, target in [
        (Role.MEMBER, True, ProposalStatus.ACCEPTED),
        (Role.MEMBER, False, ProposalStatus.DELETED),
    ]:
        with pytest.raises(PermissionDenied):
            rules.check_may_decide(role, author, target)


def test_only_an_approved_membership_gives_a_role() -> None:
    assert rules.member_role(Role.ADMIN, MembershipStatus.APPROVED) is Role.ADMIN
    for status in (MembershipStatus.PENDING, MembershipStatus.REJECTED, None):
        with pytest.raises(PermissionDenied):
            rules.member_role(Role.MEMBER, status)
