"""Cohort runs for a cycle of a group program, and the cycle rule shared by matching and the program
pages (`companion/storage/cycle_rules.py`): a mentor takes at most program.group_max_mentees mentees
whatever their capacity, small circles are warned about, a mentee is in one pair per cycle, and
publishing again adds nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from companion.container import Services
from companion.errors import Conflict, InvalidInput
from companion.identity.auth import Role, create_user, link_mentorship
from companion.matching.schemas import CohortRequest, PairRef
from companion.program.schemas import PairIn
from companion.settings import Settings
from companion.storage.cycle_rules import circle_limit, small_circles
from companion.storage.db import Cycle, CycleMentorship, MatchRun, Mentorship, Program, User
from tests.support.app import csrf_of, make_api, make_settings, web_client
from tests.support.people import link

MENTEES = [f"e{n}" for n in range(1, 8)]
MENTORS = ["a", "b"]
PROGRAM = {"group_max_mentees": 3, "group_min_mentees": 3}


def circle_settings(tmp_path: Path, **overrides: object) -> Settings:
    return make_settings(tmp_path, program=PROGRAM, matching={"max_capacity": 10}, **overrides)


def people_rows() -> list[dict[str, Any]]:
    common = {"languages": "english", "timezone": "Europe/London", "department": "Data"}
    rows: list[dict[str, Any]] = [
        {"id": k, "name": k.upper(), "role": "mentee", "skills": "sql", "goals": "Learn SQL.", **common}
        for k in MENTEES
    ]
    rows += [
        {"id": k, "name": k.upper(), "role": "mentor", "skills": "sql", "expertise": "SQL.", "capacity": 10}
        | common
        for k in MENTORS
    ]
    return rows


def setup(settings: Settings, *, kind: str = "group", accounts: bool = True) -> tuple[Services, int]:
    services = Services(settings)
    services.db.create_tables()
    rows = people_rows()
    assert services.people.import_rows(list(enumerate(rows, start=1))).failed == []
    if accounts:
        with services.db.session() as session:
            for row in rows:
                create_user(session, name=f"user-{row['id']}", role=Role(row["role"]))
        for row in rows:
            link(services, row["id"], f"user-{row['id']}")
    with services.db.session() as session:
        program = Program(name="Circles", kind=kind)
        session.add(program)
        session.flush()
        cycle = Cycle(program_id=program.id, name="C1", starts_on=date(2026, 1, 5), ends_on=date(2026, 6, 28))
        session.add(cycle)
        session.flush()
        return services, cycle.id


def circles_in_cycle(services: Services, cycle_id: int) -> Counter[str]:
    with services.db.session() as session:
        rows = session.execute(
            select(User.name)
            .join(Mentorship, Mentorship.mentor_user_id == User.id)
            .join(CycleMentorship, CycleMentorship.mentorship_id == Mentorship.id)
            .where(CycleMentorship.cycle_id == cycle_id)
        ).scalars()
        return Counter(rows)


def mentorship_of(services: Services, mentor: str, mentee: str) -> int:
    with services.db.session() as session:
        users = {u.name: u.id for u in session.scalars(select(User))}
        pair = link_mentorship(
            session, mentor_user_id=users[f"user-{mentor}"], mentee_user_id=users[f"user-{mentee}"]
        )
        return pair.id


def test_group_cycle_caps_circles_at_the_setting_and_publishing_twice_adds_nothing(
    any_db_settings: Settings, tmp_path: Path
) -> None:
    settings = circle_settings(tmp_path, database_url=any_db_settings.database_url)
    services, cycle_id = setup(settings)
    try:
        report = services.matching.cohort(CohortRequest(cycle_id=cycle_id))
        per_mentor = Counter(m.mentor.key for m in report.matches)
        assert report.matched == 6 and max(per_mentor.values()) == 3, "capacity 10, but a circle holds 3"
        assert [u.reason.startswith("capacity exhausted") for u in report.unmatched] == [True]
        assert report.audit is not None and {m.capacity for m in report.audit.mentor_load} == {3}
        assert report.warnings == [], "two full circles of 3: none under the minimum"
        accepted, skipped = services.matching.accept_run(report.run_id or 0)
        assert len(accepted) == 6 and skipped == []
        assert circles_in_cycle(services, cycle_id) == Counter({"user-a": 3, "user-b": 3})
        services.matching.accept_run(report.run_id or 0)
        assert circles_in_cycle(services, cycle_id) == Counter({"user-a": 3, "user-b": 3}), "idempotent"
        again = services.matching.cohort(CohortRequest(cycle_id=cycle_id, save=False))
        assert again.matched == 0 and again.mentors == 0, "both circles are full in this cycle"
        with pytest.raises(InvalidInput, match="group_max_mentees"):  # the program page says the same
            services.programs.add_pair(cycle_id, PairIn(mentorship_id=mentorship_of(services, "a", "e7")))
    finally:
        services.close()


def test_small_circles_are_warned_about_in_the_report_page_and_stored_run(tmp_path: Path) -> None:
    services, cycle_id = setup(circle_settings(tmp_path))
    try:
        report = services.matching.cohort(
            CohortRequest(
                cycle_id=cycle_id, mentees=["e1", "e2", "e3", "e4"], pins=[PairRef(mentee="e4", mentor="b")]
            )
        )
        sizes = Counter(m.mentor.key for m in report.matches)
        assert report.matched == 4 and sizes["b"] >= 1
        small = sorted(k.upper() for k, n in sizes.items() if n < 3)
        assert small, "4 mentees in circles of at most 3: one circle is under 3"
        assert [w.split(" would have")[0] for w in report.warnings] == [f"the circle of {k}" for k in small]
        assert all("needs at least 3 (program.group_min_mentees)" in w for w in report.warnings)
        run = services.matching.get_run(report.run_id or 0)
        assert run.report["warnings"] == report.warnings
    finally:
        services.close()


def test_one_to_one_cycle_keeps_the_profile_capacity_and_gives_no_circle_warnings(tmp_path: Path) -> None:
    services, cycle_id = setup(circle_settings(tmp_path), kind="one_to_one")
    try:
        report = services.matching.cohort(CohortRequest(cycle_id=cycle_id, save=False))
        assert report.matched == 7 and report.warnings == []
        assert report.audit is not None and {m.capacity for m in report.audit.mentor_load} == {10}
    finally:
        services.close()


def test_publishing_respects_pairs_added_by_hand_after_the_run(tmp_path: Path) -> None:
    """Between a run and its publishing an admin fills a circle and gives a mentee another mentor on the
    program page: publishing skips those matches and the cycle still obeys the rule."""
    services, cycle_id = setup(circle_settings(tmp_path))
    try:
        report = services.matching.cohort(
            CohortRequest(
                cycle_id=cycle_id,
                mentees=["e1", "e2", "e3"],
                pins=[PairRef(mentee=k, mentor="a") for k in ("e1", "e2", "e3")],
            )
        )
        assert report.matched == 3
        services.programs.add_pair(cycle_id, PairIn(mentorship_id=mentorship_of(services, "a", "e6")))
        services.programs.add_pair(cycle_id, PairIn(mentorship_id=mentorship_of(services, "b", "e1")))
        accepted, skipped = services.matching.accept_run(report.run_id or 0)
        assert {m.mentee.key for m in accepted} == {"e2", "e3"}
        assert len(skipped) == 1 and "E1 already has an accepted mentor in this cycle" in skipped[0]
        assert circles_in_cycle(services, cycle_id) == Counter({"user-a": 3, "user-b": 1})
    finally:
        services.close()


def test_a_late_linked_pair_is_refused_when_its_mentee_already_has_a_pair_in_the_cycle(
    tmp_path: Path,
) -> None:
    """Profiles without accounts are accepted without a mentorship; when accounts are linked later and the
    mentee has meanwhile joined the cycle with another mentor, publishing again says so and adds nothing."""
    services, cycle_id = setup(circle_settings(tmp_path), accounts=False)
    try:
        report = services.matching.cohort(
            CohortRequest(cycle_id=cycle_id, mentees=["e1"], pins=[PairRef(mentee="e1", mentor="a")])
        )
        assert services.matching.accept_run(report.run_id or 0)[1] == []
        with services.db.session() as session:
            for key, role in (("e1", Role.mentee), ("a", Role.mentor), ("b", Role.mentor)):
                create_user(session, name=f"user-{key}", role=role)
        for key in ("e1", "a", "b"):
            link(services, key, f"user-{key}")
        services.programs.add_pair(cycle_id, PairIn(mentorship_id=mentorship_of(services, "b", "e1")))
        with services.db.session() as session:  # the accepted match, now with accounts, as a mentorship
            users = {u.name: u.id for u in session.scalars(select(User))}
            link_mentorship(session, mentor_user_id=users["user-a"], mentee_user_id=users["user-e1"])
        accepted, skipped = services.matching.accept_run(report.run_id or 0)
        assert accepted == [] and skipped == [
            "cycle 'C1': E1 already has another pair in this cycle (a mentee has one pair per cycle); "
            "the pair with A was not added to it"
        ]
        assert circles_in_cycle(services, cycle_id) == Counter({"user-b": 1})
        with pytest.raises(Conflict, match="one pair per cycle"):
            services.programs.add_pair(cycle_id, PairIn(mentorship_id=mentorship_of(services, "a", "e1")))
    finally:
        services.close()


def test_an_ended_pair_still_holds_its_mentee_and_place_in_the_cycle(tmp_path: Path) -> None:
    services, cycle_id = setup(circle_settings(tmp_path))
    try:
        services.programs.add_pair(cycle_id, PairIn(mentorship_id=mentorship_of(services, "a", "e1")))
        with services.db.session() as session:
            for pair in session.scalars(select(Mentorship)):
                pair.active = False
        report = services.matching.cohort(CohortRequest(cycle_id=cycle_id, save=False))
        assert report.mentees == 6 and "e1" not in {m.mentee.key for m in report.matches}
        assert report.matched == 5 and Counter(m.mentor.key for m in report.matches) == {"a": 2, "b": 3}
    finally:
        services.close()


def test_circle_limit_and_small_circles() -> None:
    assert circle_limit(10, group=True, group_max=5) == 5
    assert circle_limit(2, group=True, group_max=5) == 2
    assert circle_limit(10, group=False, group_max=5) == 10
    assert small_circles({1: 0, 2: 1, 3: 3, 4: 2}, group_min=3) == {2: 1, 4: 2}


def test_the_matching_page_warns_about_a_small_circle(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, program={"group_max_mentees": 4, "group_min_mentees": 4}, matching={"max_capacity": 10}
    )
    services, cycle_id = setup(settings)
    try:
        for api in make_api(services):
            admin = web_client(api, "admin")
            csrf = csrf_of(admin.get("/admin/matching").text)
            page = admin.post("/admin/matching/run", data={"csrf_token": csrf, "cycle_id": str(cycle_id)})
            assert page.status_code == 200
            found = re.search(r'<ul id="circle-warnings".*?</ul>', page.text, re.S)
            assert found, "7 mentees in circles of at most 4: one circle has 3, under the minimum of 4"
            assert found.group(0).count("<li>") == 1
            assert "would have 3 mentee(s); a group circle needs at least 4" in found.group(0)
            with services.db.session() as session:
                run_id = session.scalars(select(MatchRun.id)).one()
            stored = admin.get(f"/admin/matching?run={run_id}").text
            assert re.search(r'<ul id="circle-warnings".*?</ul>', stored, re.S).group(0) == found.group(0)  # type: ignore[union-attr]
    finally:
        services.close()


def test_the_command_line_prints_the_circle_warnings(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from companion.cli.main import app

    services, cycle_id = setup(circle_settings(tmp_path), accounts=False)
    services.close()
    env = {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COMPANION_PROGRAM__GROUP_MAX_MENTEES": "3",
        "COMPANION_PROGRAM__GROUP_MIN_MENTEES": "3",
        "COMPANION_MATCHING__MAX_CAPACITY": "10",
        "COLUMNS": "220",
    }
    done = CliRunner().invoke(app, ["match", "--cycle", str(cycle_id), "--dry-run"], env=env)
    assert done.exit_code == 0, done.output
    assert "matched 6 of 7 mentees" in done.output
    assert "Warning:" not in done.output, "two full circles of 3"
    few = CliRunner().invoke(
        app,
        ["match", "--cycle", str(cycle_id), "--dry-run"],
        env=env | {"COMPANION_PROGRAM__GROUP_MAX_MENTEES": "4", "COMPANION_PROGRAM__GROUP_MIN_MENTEES": "4"},
    )
    assert few.exit_code == 0, few.output
    assert few.output.count("Warning: the circle of ") == 1 and "would have 3 mentee(s)" in few.output
