"""The matching audit: exact figures on a hand-made cohort, the warning rule, mentor load against capacity,
and the audit of a real run (stored in its report, returned by the API, printed by the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.container import Services
from companion.matching.audit import MatchAudit, MenteeOutcome, MentorOutcome, audit_run
from companion.matching.schemas import CohortRequest
from tests.support.app import Api, make_settings
from tests.support.people import load_team


def mentee(
    key: str, dept: str | None, site: str, seniority: str | None, score: float | None
) -> MenteeOutcome:
    zone = "Europe/Lisbon" if site == "Lisbon" else "Europe/London"
    return MenteeOutcome(key=key, department=dept, site=site, seniority=seniority, timezone=zone, score=score)


COHORT = [
    mentee("e1", "Engineering", "Leeds", "junior", 0.8),
    mentee("e2", "Engineering", "Leeds", "junior", 0.6),
    mentee("e3", "Engineering", "Leeds", "senior", 0.7),
    mentee("e4", "Engineering", "Leeds", "senior", None),
    mentee("s1", "Sales", "Lisbon", "junior", 0.5),
    mentee("s2", "Sales", "Lisbon", "junior", None),
    mentee("s3", "Sales", "Lisbon", "junior", None),
    mentee("u1", None, "Leeds", None, 0.9),
    mentee("u2", "  ", "Leeds", None, 0.4),
    mentee("u3", None, "Leeds", "", None),
]
MENTORS = [
    MentorOutcome(key="b", name="B", capacity=3, held=0, assigned=1),
    MentorOutcome(key="e", name="E", capacity=1, held=0, assigned=1),
    MentorOutcome(key="a", name="A", capacity=2, held=1, assigned=1),
    MentorOutcome(key="c", name="C", capacity=2, held=0, assigned=0),
    MentorOutcome(key="d", name="D", capacity=0, held=0, assigned=0),
]


def figures(audit: MatchAudit, dimension: str) -> list[tuple[str, int, int, float, float | None, bool]]:
    found = next(d for d in audit.dimensions if d.dimension == dimension)
    return [(g.group, g.mentees, g.matched, g.match_rate, g.mean_score, g.compared) for g in found.groups]


def test_exact_figures_per_group_on_a_hand_made_cohort() -> None:
    audit = audit_run(COHORT, MENTORS, warn_points=15, min_group_size=3)
    assert (audit.mentees, audit.matched, audit.match_rate, audit.mean_score) == (10, 6, 60.0, 0.65)
    assert figures(audit, "department") == [
        ("Engineering", 4, 3, 75.0, 0.7, True),
        ("Sales", 3, 1, 33.3, 0.5, True),
        ("unknown", 3, 2, 66.7, 0.65, True),  # None and blank both count as unknown
    ]
    assert figures(audit, "site") == [("Leeds", 7, 5, 71.4, 0.68, True), ("Lisbon", 3, 1, 33.3, 0.5, True)]
    assert figures(audit, "seniority") == [
        ("junior", 5, 3, 60.0, 0.6333, True),
        ("unknown", 3, 2, 66.7, 0.65, True),
        ("senior", 2, 1, 50.0, 0.7, False),  # under min_group_size: shown, not compared
    ]
    assert [g[0] for g in figures(audit, "timezone")] == ["Europe/London", "Europe/Lisbon"]

    department = next(d for d in audit.dimensions if d.dimension == "department")
    assert (department.rate_gap, department.best_rate_group, department.worst_rate_group) == (
        41.7,
        "Engineering",
        "Sales",
    )
    assert (department.score_gap, department.best_score_group, department.worst_score_group) == (
        0.2,
        "Engineering",
        "Sales",
    )
    seniority = next(d for d in audit.dimensions if d.dimension == "seniority")
    assert (seniority.rate_gap, seniority.worst_rate_group) == (6.7, "junior"), "senior (2) is not compared"
    assert audit.warnings == [
        "department Sales: 1 of 3 matched (33.3%), 26.7 points under the overall 60.0%",
        "site Lisbon: 1 of 3 matched (33.3%), 26.7 points under the overall 60.0%",
        "timezone Europe/Lisbon: 1 of 3 matched (33.3%), 26.7 points under the overall 60.0%",
    ]


def test_mentor_load_against_capacity() -> None:
    audit = audit_run(COHORT, MENTORS, warn_points=15, min_group_size=3)
    assert [(m.key, m.held, m.assigned, m.capacity, m.load) for m in audit.mentor_load] == [
        ("a", 1, 1, 2, 1.0),
        ("e", 0, 1, 1, 1.0),
        ("b", 0, 1, 3, 0.3333),
        ("c", 0, 0, 2, 0.0),
    ], "most loaded first; a mentor without capacity is left out"
    assert [(b.bucket, b.mentors) for b in audit.load_distribution] == [
        ("0%", 1),
        ("1-49%", 1),
        ("50-99%", 0),
        ("100%", 2),
    ]
    loads = np.array([1.0, 1.0, 0.3333, 0.0])
    assert audit.load_mean == round(float(loads.mean()), 4) == 0.5833
    assert audit.load_cv == round(float(loads.std() / loads.mean()), 4)
    even = audit_run(COHORT, [MentorOutcome(key=k, name=k, capacity=2, held=0, assigned=1) for k in "xyz"],
                     warn_points=15, min_group_size=3)  # fmt: skip
    assert (even.load_cv, even.load_mean) == (0.0, 0.5)
    empty = audit_run([], [], warn_points=15, min_group_size=3)
    assert (empty.match_rate, empty.mean_score, empty.load_cv, empty.warnings) == (0.0, None, 0.0, [])
    assert all(d.rate_gap == 0 and d.best_rate_group is None for d in empty.dimensions)


def test_warning_only_when_more_than_the_threshold_under() -> None:
    # overall 15 of 20 = 75%; site "far" 3 of 5 = 60%: exactly 15 points under
    cohort = [mentee(f"n{i}", "Eng", "near", "mid", 0.5 if i < 12 else None) for i in range(15)]
    cohort += [mentee(f"f{i}", "Eng", "far", "mid", 0.5 if i < 3 else None) for i in range(5)]
    assert audit_run(cohort, [], warn_points=15, min_group_size=3).warnings == []
    warned = audit_run(cohort, [], warn_points=14.9, min_group_size=3).warnings
    assert warned == ["site far: 3 of 5 matched (60.0%), 15.0 points under the overall 75.0%"]
    assert audit_run(cohort, [], warn_points=0, min_group_size=6).warnings == [], "a group of 5 under 6"


def test_a_run_carries_its_audit_in_the_report_the_api_and_the_cli(api: Api, tmp_path: Path) -> None:
    load_team(api.services)
    body = api.client.post("/v1/matching/cohort", headers=api.auth("admin"), json={}).json()
    audit = body["audit"]
    assert audit["mentees"] == 3 and audit["matched"] == body["matched"] == 2
    zones = {g["group"]: g for d in audit["dimensions"] if d["dimension"] == "timezone" for g in d["groups"]}
    assert zones["Asia/Kolkata"]["matched"] == 0, "zoe speaks no mentor's language"
    stored = api.client.get(f"/v1/matching/runs/{body['run_id']}/audit", headers=api.auth("admin"))
    assert stored.status_code == 200 and stored.json() == audit
    assert (
        api.client.get(f"/v1/matching/runs/{body['run_id']}", headers=api.auth("admin")).json()["audit"]
        == audit
    )
    assert (
        api.client.get(f"/v1/matching/runs/{body['run_id']}/audit", headers=api.auth("mentor")).status_code
        == 403
    )
    assert api.client.get("/v1/matching/runs/999/audit", headers=api.auth("admin")).status_code == 404
    assert api.services.matching.cohort(CohortRequest(save=False)).audit is not None


def test_cli_prints_the_audit_summary(tmp_path: Path) -> None:
    services = Services(make_settings(tmp_path))
    services.db.create_tables()
    load_team(services)
    services.close()
    env = {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COMPANION_MATCHING__AUDIT_MIN_GROUP_SIZE": "1",
        "COLUMNS": "200",
    }
    shown = CliRunner().invoke(cli_app, ["match", "--dry-run"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Audit: matched 2 of 3 (66.7%)" in shown.stdout
    assert "warning: timezone Asia/Kolkata: 0 of 1 matched (0.0%), 66.7 points under" in shown.stdout
    as_json = json.loads(CliRunner().invoke(cli_app, ["match", "--dry-run", "--json"], env=env).stdout)
    assert as_json["audit"]["matched"] == 2
