"""Cohort matching for a program cycle: the "at most N consecutive cycles with the same mentor" rule, places
counted within the cycle, published pairs joining the cycle (once), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from companion.container import Services
from companion.errors import InvalidInput
from companion.identity.auth import Role, create_user, link_mentorship
from companion.matching.schemas import CohortReport, CohortRequest, PairRef
from companion.settings import Settings
from companion.storage.db import Cycle, CycleMentorship, MatchRun, Person, Program, User
from tests.support.app import make_settings
from tests.support.people import link

# m1 fits mentor "a" best (all three skills) and "c" second; m2 fits "b" best. Each mentor takes one.
PEOPLE: list[dict[str, Any]] = [
    {"id": "m1", "role": "mentee", "skills": "rtos; embedded c; drivers", "goals": "Learn RTOS drivers."},
    {"id": "m2", "role": "mentee", "skills": "sql; reporting", "goals": "Write faster SQL reports."},
    {"id": "a", "role": "mentor", "skills": "rtos; embedded c; drivers", "expertise": "RTOS drivers."},
    {"id": "b", "role": "mentor", "skills": "sql; reporting", "expertise": "SQL reporting."},
    {"id": "c", "role": "mentor", "skills": "rtos", "expertise": "RTOS scheduling."},
]


def load_people(services: Services) -> dict[str, int]:
    rows = [
        {
            "name": r["id"].upper(),
            "languages": "english",
            "timezone": "Europe/London",
            "department": "Firmware",
            "capacity": 1,
            **r,
        }
        for r in PEOPLE
    ]
    assert services.people.import_rows(list(enumerate(rows, start=1))).failed == []
    with services.db.session() as session:
        for row in PEOPLE:
            create_user(session, name=f"user-{row['id']}", role=Role(row["role"]))
    for row in PEOPLE:
        link(services, row["id"], f"user-{row['id']}")
    with services.db.session() as session:
        return {p.key: p.id for p in session.scalars(select(Person))}


def make_cycles(services: Services) -> dict[str, int]:
    """Program "Formal": spring, summer, autumn (created out of date order, so order must come from the
    start dates); program "Other" has a cycle between summer and autumn that must not count."""
    with services.db.session() as session:
        formal, other = Program(name="Formal"), Program(name="Other")
        session.add_all([formal, other])
        session.flush()
        cycles = {
            "autumn": Cycle(
                program_id=formal.id, name="Autumn", starts_on=date(2026, 9, 1), ends_on=date(2027, 2, 1)
            ),
            "spring": Cycle(
                program_id=formal.id, name="Spring", starts_on=date(2026, 1, 5), ends_on=date(2026, 4, 30)
            ),
            "summer": Cycle(
                program_id=formal.id, name="Summer", starts_on=date(2026, 5, 1), ends_on=date(2026, 8, 30)
            ),
            "other": Cycle(
                program_id=other.id, name="Other 1", starts_on=date(2026, 6, 1), ends_on=date(2026, 8, 1)
            ),
        }
        for cycle in cycles.values():
            session.add(cycle)
            session.flush()
        return {name: cycle.id for name, cycle in cycles.items()}


def run_and_publish(services: Services, cycle_id: int, pins: list[tuple[str, str]]) -> CohortReport:
    report = services.matching.cohort(
        CohortRequest(cycle_id=cycle_id, pins=[PairRef(mentee=a, mentor=b) for a, b in pins])
    )
    accepted, skipped = services.matching.accept_run(report.run_id or 0)
    assert skipped == [] and len(accepted) == report.matched
    return report


def pairs_of(report: CohortReport) -> dict[str, str]:
    return {m.mentee.key: m.mentor.key for m in report.matches}


def cycle_rows(services: Services, cycle_id: int) -> int:
    with services.db.session() as session:
        return int(
            session.scalar(select(func.count(CycleMentorship.id)).where(CycleMentorship.cycle_id == cycle_id))
            or 0
        )


def prepare(settings: Settings) -> tuple[Services, dict[str, int]]:
    services = Services(settings)
    services.db.create_tables()
    load_people(services)
    cycles = make_cycles(services)
    # spring: m1-a, put in the cycle directly (as the cycles page does, no matching run); summer: m1-a
    # again and m2-b, through a run; the other program's cycle: both pairs again
    with services.db.session() as session:
        users = {u.name: u.id for u in session.scalars(select(User))}
        pair = link_mentorship(session, mentor_user_id=users["user-a"], mentee_user_id=users["user-m1"])
        session.add(CycleMentorship(cycle_id=cycles["spring"], mentorship_id=pair.id))
    summer = run_and_publish(services, cycles["summer"], [])
    assert pairs_of(summer) == {"m1": "a", "m2": "b"}, "a new cycle: last cycle's pairs hold no places in it"
    assert summer.repeat_excluded == 0, "only one cycle before summer: nothing to exclude yet"
    run_and_publish(services, cycles["other"], [])
    return services, cycles


def test_third_cycle_never_repeats_a_two_cycle_pair(any_db_settings: Settings) -> None:
    services, cycles = prepare(any_db_settings)
    try:
        assert cycle_rows(services, cycles["spring"]) == 1 and cycle_rows(services, cycles["summer"]) == 2
        dry = services.matching.cohort(CohortRequest(cycle_id=cycles["autumn"], save=False))
        # m1 had a in spring and summer: never a again; m2 had b only in summer: b again is allowed
        assert pairs_of(dry) == {"m1": "c", "m2": "b"}
        assert dry.repeat_excluded == 1 and dry.excluded["consecutive_cycles"] == 1
        assert dry.cycle is not None and (dry.cycle.name, dry.cycle.program) == ("Autumn", "Formal")
        with pytest.raises(InvalidInput, match="consecutive cycles"):
            services.matching.cohort(
                CohortRequest(cycle_id=cycles["autumn"], pins=[PairRef(mentee="m1", mentor="a")])
            )

        autumn = run_and_publish(services, cycles["autumn"], [("m2", "b")])
        assert pairs_of(autumn) == {"m1": "c", "m2": "b"}
        with services.db.session() as session:
            run = session.get(MatchRun, autumn.run_id)
            assert run is not None and run.cycle_id == cycles["autumn"]
            assert run.report["repeat_excluded"] == 1
        assert cycle_rows(services, cycles["autumn"]) == 2
        services.matching.accept_run(autumn.run_id or 0)  # publishing again adds nothing
        assert cycle_rows(services, cycles["autumn"]) == 2
        assert services.matching.cohort(CohortRequest(cycle_id=cycles["autumn"], save=False)).mentees == 0
        again = services.matching.cohort(
            CohortRequest(cycle_id=cycles["autumn"], mentees=["m1", "m2"], save=False)
        )
        assert again.matches == [] and {u.reason for u in again.unmatched} == {
            "already has a mentor in this cycle"
        }
        with pytest.raises(InvalidInput, match="no cycle 999"):
            services.matching.cohort(CohortRequest(cycle_id=999))
        outside = services.matching.cohort(CohortRequest(save=False))
        assert outside.mentees == 0, "without a cycle every accepted match holds its place, as before"
        assert "consecutive_cycles" not in outside.excluded
    finally:
        services.close()


def test_one_consecutive_cycle_also_rules_out_last_cycles_pair(tmp_path: Any) -> None:
    services, cycles = prepare(make_settings(tmp_path))
    services.close()
    services = Services(make_settings(tmp_path, program={"max_consecutive_cycles": 1}))
    try:
        dry = services.matching.cohort(CohortRequest(cycle_id=cycles["autumn"], save=False))
        assert dry.repeat_excluded == 2, "summer's two pairs, the one cycle before autumn"
        pairs = pairs_of(dry)
        assert pairs["m1"] != "a" and pairs.get("m2") != "b"
    finally:
        services.close()


def test_cycle_run_over_the_api(tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from companion.app import create_app

    services, cycles = prepare(make_settings(tmp_path))
    try:
        with services.db.session() as session:
            _, token = create_user(session, name="boss", role=Role.admin)
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(services.settings, services=services)) as client:
            body = client.post(
                "/v1/matching/cohort", headers=auth, json={"cycle_id": cycles["autumn"]}
            ).json()
            assert body["repeat_excluded"] == 1 and body["cycle"]["id"] == cycles["autumn"]
            run = client.get(f"/v1/matching/runs/{body['run_id']}", headers=auth).json()
            assert run["cycle_id"] == cycles["autumn"] and run["audit"]["matched"] == 2
            bad = client.post("/v1/matching/cohort", headers=auth, json={"cycle_id": 0})
            assert bad.status_code == 422 and "cycle_id" in bad.json()["error"]["message"]
            missing = client.post("/v1/matching/cohort", headers=auth, json={"cycle_id": 12345})
            assert missing.status_code == 422 and "no cycle 12345" in missing.json()["error"]["message"]
    finally:
        services.close()


def test_pairs_without_accounts_count_by_their_accepted_cycle_matches(tmp_path: Any) -> None:
    """Profiles without user accounts never become mentorships; their accepted matches of a cycle's run
    are what shows they ran in it."""
    services = Services(make_settings(tmp_path, program={"max_consecutive_cycles": 1}))
    services.db.create_tables()
    try:
        rows = [
            {"name": r["id"].upper(), "languages": "english", "timezone": "Europe/London", "capacity": 1, **r}
            for r in PEOPLE
        ]
        assert services.people.import_rows(list(enumerate(rows, start=1))).failed == []
        cycles = make_cycles(services)
        spring = run_and_publish(services, cycles["spring"], [])
        assert pairs_of(spring) == {"m1": "a", "m2": "b"} and cycle_rows(services, cycles["spring"]) == 0
        summer = services.matching.cohort(CohortRequest(cycle_id=cycles["summer"], save=False))
        assert summer.repeat_excluded == 2
        assert pairs_of(summer)["m1"] != "a" and pairs_of(summer).get("m2") != "b"
    finally:
        services.close()
