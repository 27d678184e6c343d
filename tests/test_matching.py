"""Recommendations and cohort matching: hard rules never broken, exact optimality, reasons, roles."""

from __future__ import annotations

import importlib.util
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.container import Services
from companion.errors import InvalidInput, NotFound
from companion.identity.auth import Role, create_user, mentees_of
from companion.knowledge.embeddings import FakeEmbedder
from companion.matching.assignment import Problem, solve_brute_force, solve_greedy, solve_optimal
from companion.matching.demo_org import demo_rows
from companion.matching.profiles import match_profile, profile_text, reporting_chains
from companion.matching.schemas import CohortRequest, PairRef
from companion.matching.scoring import HALF_PRECISION_FROM, MatchProfile, MentorPool, rank
from companion.matching.timezones import overlap_hours, parse_timezone
from companion.settings import MatchingSettings, Settings
from companion.storage.db import Person, User
from tests.support.app import REPO, Api, make_api, make_settings
from tests.support.people import link, load_cases, load_team, precision_at_5

# ---- an independent check of the hard rules --------------------------------------------------------------


@cache
def shared_minutes(zone_a: str, zone_b: str) -> int:
    """Minutes of a day both are inside 9:00-17:00 local time, the worse of a January and a July day,
    found by walking the day in 15-minute steps with zoneinfo (independent of
    companion.matching.timezones)."""

    def zone(name: str) -> tzinfo:
        if name.startswith("UTC"):
            sign = -1 if "-" in name else 1
            hours, _, minutes = name[4:].partition(":")
            return timezone(sign * timedelta(hours=int(hours or 0), minutes=int(minutes or 0)))
        return ZoneInfo(name)

    def working(moment: datetime, name: str) -> bool:
        return 9 <= moment.astimezone(zone(name)).hour < 17

    days = (datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 7, 15, tzinfo=UTC))
    return min(
        sum(
            15
            for step in range(96)
            if working(day + timedelta(minutes=15 * step), zone_a)
            and working(day + timedelta(minutes=15 * step), zone_b)
        )
        for day in days
    )


def in_line(rows: dict[str, dict[str, Any]], lower: str, upper: str) -> bool:
    current = rows[lower].get("manager")
    seen = set()
    while current and current not in seen:
        if current == upper:
            return True
        seen.add(current)
        current = rows.get(current, {}).get("manager")
    return False


def check_pair(
    rows: dict[str, dict[str, Any]], mentee: str, mentor: str, forbidden: set[tuple[str, str]]
) -> None:
    a, b = rows[mentee], rows[mentor]
    assert set(a["languages"]) & set(b["languages"]), f"{mentee}/{mentor}: no shared language"
    assert shared_minutes(a["timezone"], b["timezone"]) >= 120, f"{mentee}/{mentor}: under 2 h overlap"
    assert not in_line(rows, mentee, mentor) and not in_line(rows, mentor, mentee), "reporting line"
    assert mentor not in (a.get("preferences") or {}).get("avoid", []), "avoided"
    assert (mentee, mentor) not in forbidden, "forbidden pair"


def test_overlap_hours_match_the_handbook_examples() -> None:
    def hours(a: str, b: str) -> float:
        return float(
            overlap_hours(np.array([parse_timezone(a)]), np.array([parse_timezone(b)]), start=9, end=17)[0, 0]
        )

    assert hours("Europe/London", "Asia/Kolkata") == 2.5  # 3.5 in July, 2.5 in January
    assert hours("Europe/London", "America/Toronto") == 3
    assert hours("America/Toronto", "Asia/Kolkata") == 0
    assert hours("America/Vancouver", "Europe/London") == 0
    assert hours("Europe/Lisbon", "Europe/London") == 8
    assert hours("UTC+05:30", "Asia/Kolkata") == 8
    assert hours("Pacific/Auckland", "Pacific/Honolulu") == hours("Pacific/Honolulu", "Pacific/Auckland")
    for a, b in [
        ("Europe/London", "Asia/Kolkata"),
        ("America/Toronto", "Europe/Berlin"),
        ("UTC-03", "UTC+04"),
    ]:
        assert hours(a, b) * 60 == shared_minutes(a, b)
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_timezone("Mars/Olympus")


# ---- the pure pipeline over random synthetic organizations -----------------------------------------------


def org_block(
    rows: list[dict[str, Any]], forbidden: set[tuple[str, str]] | None = None
) -> tuple[list[MatchProfile], MentorPool, Any]:
    people = [
        Person(
            id=n,
            key=r["email"],
            name=r["name"],
            role=r["role"],
            department=r["department"],
            site=r["site"],
            manager_key=r["manager"],
            timezone=r["timezone"],
            languages=r["languages"],
            skills=r["skills"],
            expertise=r.get("expertise", ""),
            goals=r.get("goals", ""),
            capacity=r.get("capacity", 0),
            preferences=r.get("preferences") or {},
        )
        for n, r in enumerate(rows)
    ]
    chains = reporting_chains({p.key: p.manager_key for p in people})
    embedder = FakeEmbedder(64)
    mentors = [p for p in people if p.role == "mentor"]
    mentees = [match_profile(p, ancestors=chains[p.key]) for p in people if p.role == "mentee"]
    pool = MentorPool(
        [match_profile(p, ancestors=chains[p.key]) for p in mentors],
        embedder.encode([profile_text(p) for p in mentors]),
        settings=MatchingSettings(),
    )
    vectors = embedder.encode([profile_text(p) for p in people if p.role == "mentee"])
    index = {m.key: i for i, m in enumerate(mentees)}
    pairs = [(index[a], pool.row_of[b]) for a, b in forbidden or ()]
    return mentees, pool, pool.score(mentees, vectors, forbidden=pairs)


@pytest.mark.parametrize("seed", range(8))
def test_cohort_never_breaks_a_hard_rule_and_honours_pins(seed: int) -> None:
    rng = random.Random(seed)
    rows = demo_rows(seed, rng.randint(40, 160))
    by_key = {r["email"]: r for r in rows}
    mentee_keys = [r["email"] for r in rows if r["role"] == "mentee"]
    mentor_keys = [r["email"] for r in rows if r["role"] == "mentor"]
    forbidden = {(rng.choice(mentee_keys), rng.choice(mentor_keys)) for _ in range(10)}
    mentees, pool, block = org_block(rows, forbidden)
    feasible_pairs = list(zip(*np.nonzero(block.feasible), strict=True))
    pins: list[tuple[int, int]] = []
    for i, j in rng.sample(feasible_pairs, k=min(4, len(feasible_pairs))):
        if all(i != a and j != b for a, b in pins):
            pins.append((int(i), int(j)))
    problem = Problem(block.total, block.feasible, pool.capacity, pins)
    optimal, greedy = solve_optimal(problem), solve_greedy(problem)
    assert greedy.total_score <= optimal.total_score + 1e-9
    for result in (optimal, greedy):
        counts = np.bincount(result.mentor_of[result.mentor_of >= 0], minlength=pool.size)
        assert (counts <= pool.capacity).all(), "capacity"
        for i, j in pins:
            assert result.mentor_of[i] == j, "pins are honoured"
        for i, j in enumerate(result.mentor_of):
            if j >= 0:
                check_pair(by_key, mentees[i].key, pool.mentors[j].key, forbidden)
    # every mentee left unmatched either had no feasible mentor or found all of them full
    for i in np.flatnonzero(optimal.mentor_of < 0):
        left = pool.capacity - np.bincount(optimal.mentor_of[optimal.mentor_of >= 0], minlength=pool.size)
        assert not (block.feasible[i] & (left > 0)).any()


def random_problem(rng: np.random.Generator) -> Problem:
    n, m = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    feasible = rng.random((n, m)) < 0.65
    places = rng.integers(0, 4, size=m)
    pins: list[tuple[int, int]] = []
    used = np.zeros(m, dtype=int)
    for i in range(n):
        options = [j for j in range(m) if feasible[i, j] and used[j] < places[j]]
        if options and rng.random() < 0.2:
            j = int(rng.choice(options))
            pins.append((i, j))
            used[j] += 1
    scores = np.round(rng.random((n, m)), 2)  # rounding makes ties, the hard part for tie handling
    penalty = float(rng.choice([0.0, 0.0, 0.25]))
    return Problem(scores, feasible, places, pins, unmatched_penalty=penalty)


def test_solver_is_optimal_against_brute_force() -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        problem = random_problem(rng)
        optimal, brute, greedy = solve_optimal(problem), solve_brute_force(problem), solve_greedy(problem)
        assert optimal.objective(problem) == pytest.approx(brute.objective(problem), abs=1e-9)
        assert greedy.objective(problem) <= optimal.objective(problem) + 1e-9
        for i, j in problem.pins:
            assert optimal.mentor_of[i] == j
        matched = optimal.mentor_of >= 0
        assert problem.feasible[np.flatnonzero(matched), optimal.mentor_of[matched]].all()
        assert (
            np.bincount(optimal.mentor_of[matched], minlength=len(problem.places)) <= problem.places
        ).all()


def test_greedy_can_lose_to_the_optimum() -> None:
    # greedy takes the single best pair (0, 0) and leaves mentee 1 with nothing
    problem = Problem(
        np.array([[0.9, 0.8], [0.85, 0.0]]), np.array([[True, True], [True, False]]), np.array([1, 1])
    )
    assert solve_greedy(problem).total_score == pytest.approx(0.9)
    assert solve_optimal(problem).total_score == pytest.approx(1.65)
    with pytest.raises(ValueError, match="breaks a hard rule"):
        solve_optimal(Problem(problem.scores, problem.feasible, problem.places, [(1, 1)]))


def test_two_pass_ranking_is_exact() -> None:
    """Half precision then float32 on the candidates gives the single float32 pass's top k (pools of
    HALF_PRECISION_FROM mentors or more use it by default; this one is forced on a smaller pool)."""
    rng = np.random.default_rng(5)
    size = 3000
    assert size < HALF_PRECISION_FROM
    mentors = [
        MatchProfile(
            id=i,
            key=f"m{i}",
            name=f"m{i}",
            role="mentor",
            timezone=["Europe/London", "Asia/Kolkata", "America/Toronto"][i % 3],
            languages=("english",) if i % 7 else ("french",),
            skills=(f"s{i % 13}", f"s{i % 5}"),
            department=f"d{i % 4}",
            capacity=int(i % 4),
        )
        for i in range(size)
    ]
    topics = rng.standard_normal((8, 48))
    vectors = topics[rng.integers(0, 8, size)] + 0.3 * rng.standard_normal((size, 48))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pool = MentorPool(mentors, vectors.astype(np.float32), settings=MatchingSettings())
    for q in range(40):
        mentee = MatchProfile(
            id=q,
            key=f"e{q}",
            name="e",
            role="mentee",
            timezone="Europe/Lisbon",
            languages=("english",),
            skills=("s1", "s3"),
            department="d1",
            department_pref="different" if q % 2 else None,
        )
        vector = vectors[q * 11] + 0.2 * rng.standard_normal(48)
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
        block, rows = rank(pool, mentee, vector, k=10, two_pass=True)
        exact = pool.score([mentee], vector[None, :])
        scores = np.where(exact.feasible[0], exact.total[0], -np.inf)
        expected = sorted(np.flatnonzero(np.isfinite(scores)).tolist(), key=lambda r: (-scores[r], r))[:10]
        assert rows == expected
        assert np.allclose(block.total[0, rows], scores[expected], atol=1e-6)


# ---- through the services and the API --------------------------------------------------------------------


@pytest.fixture
def team_api(services: Services) -> Iterator[tuple[Api, dict[str, int]]]:
    for api in make_api(services):
        ids = load_team(services)
        link(services, "mia", "mentee1")
        link(services, "okay", "mentor1")
        yield api, ids


def test_recommendations_respect_every_hard_rule_and_explain_the_fit(
    team_api: tuple[Api, dict[str, int]],
) -> None:
    api, ids = team_api
    response = api.client.get(f"/v1/mentees/{ids['mia']}/recommendations?k=5", headers=api.auth("mentee"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["mentor"]["key"] for r in body["results"]] == ["good", "okay", "other"]
    assert body["excluded"] == {
        "places": 1,
        "language": 1,
        "overlap": 1,
        "reporting_line": 3,
        "avoided": 1,
        "forbidden": 0,
    }
    assert body["mentors_considered"] == 10 and body["mentors_eligible"] == 3
    top = body["results"][0]
    assert top["matched_skills"] == ["rtos", "embedded c"]
    assert top["breakdown"]["skills"] == 1.0 and top["breakdown"]["preferences"] == 1.0
    assert top["score"] == pytest.approx(0.6 * top["breakdown"]["similarity"] + 0.3 + 0.1, abs=1e-3)
    assert top["shared_languages"] == ["english"] and top["overlap_hours"] == 8 and top["places_left"] == 2
    assert "Offers 2 of the 2 skills wanted: rtos, embedded c." in top["reason"]
    assert "From a different department, as you asked." in top["reason"]
    phrase = top["matched_phrases"][0]
    assert "RTOS scheduling" in phrase["need"] and "RTOS scheduling" in phrase["offer"]
    assert f'matches their expertise "{phrase["offer"]}"' in top["reason"]
    assert (
        body["results"][2]["matched_skills"] == []
        and "Offers none of the listed skills" in body["results"][2]["reason"]
    )


def test_recommendation_role_checks_and_bad_input(team_api: tuple[Api, dict[str, int]]) -> None:
    api, ids = team_api
    url = "/v1/mentees/{}/recommendations"
    assert api.client.get(url.format(ids["ned"]), headers=api.auth("mentee")).status_code == 403
    denied = api.client.get(url.format(ids["mia"]), headers=api.auth("mentor"))
    assert denied.status_code == 403 and "mentors cannot see them" in denied.json()["error"]["message"]
    assert api.client.get(url.format(ids["ned"]), headers=api.auth("admin")).status_code == 200
    assert api.client.get(url.format(ids["mia"])).status_code == 401
    mentor = api.client.get(url.format(ids["good"]), headers=api.auth("admin"))
    assert mentor.status_code == 422 and "is a mentor" in mentor.json()["error"]["message"]
    assert api.client.get(url.format(999), headers=api.auth("admin")).status_code == 404
    for bad in ("?k=0", "?k=51", "?k=two"):
        response = api.client.get(url.format(ids["mia"]) + bad, headers=api.auth("admin"))
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"
    assert api.client.get("/v1/mentees/abc/recommendations", headers=api.auth("admin")).status_code == 422
    assert api.client.get(url.format(2**40), headers=api.auth("admin")).status_code == 422
    assert api.client.post("/v1/matches/99999999999/accept", headers=api.auth("admin")).status_code == 422
    nobody = api.client.get(url.format(ids["zoe"]), headers=api.auth("admin")).json()
    assert nobody["results"] == [] and nobody["excluded"]["language"] == 10


def test_cohort_matching_is_admin_only_and_validates_pins(team_api: tuple[Api, dict[str, int]]) -> None:
    api, ids = team_api
    for role in ("mentee", "mentor"):
        assert api.client.post("/v1/matching/cohort", headers=api.auth(role), json={}).status_code == 403

    def run(body: dict[str, Any]):  # type: ignore[no-untyped-def]
        return api.client.post("/v1/matching/cohort", headers=api.auth("admin"), json=body)

    cases = [
        ({"pins": [{"mentee": "mia", "mentor": "far"}]}, "pin mia -> far breaks the hard rule(s): overlap"),
        ({"pins": [{"mentee": "mia", "mentor": "lead"}]}, "reporting line"),
        (
            {"pins": [{"mentee": "mia", "mentor": "good"}], "forbids": [{"mentee": "mia", "mentor": "good"}]},
            "both pinned and forbidden",
        ),
        (
            {"pins": [{"mentee": "mia", "mentor": "good"}, {"mentee": "mia", "mentor": "okay"}]},
            "one mentor only",
        ),
        ({"pins": [{"mentee": "good", "mentor": "okay"}]}, "good is a mentor, not a mentee"),
        ({"mentees": ["nobody"]}, "no mentee 'nobody'"),
        ({"pins": [{"mentee": "mia"}]}, "pins.0.mentor"),
        ({"save": "maybe"}, "save"),
        ({"colour": "red"}, "colour"),
    ]
    for body, message in cases:
        response = run(body)
        assert response.status_code == 422, (body, response.text)
        assert message in response.json()["error"]["message"], response.json()

    dry = run(
        {
            "pins": [{"mentee": "mia", "mentor": "okay"}],
            "forbids": [{"mentee": ids["ned"], "mentor": "other"}],
            "save": False,
        }
    ).json()
    assert dry["run_id"] is None and all(m["id"] is None for m in dry["matches"])
    pairs = {m["mentee"]["key"]: (m["mentor"]["key"], m["pinned"]) for m in dry["matches"]}
    assert pairs["mia"] == ("okay", True)
    assert "ned" not in pairs or pairs["ned"][0] != "other"
    unmatched = {u["mentee"]["key"]: u["reason"] for u in dry["unmatched"]}
    assert unmatched["zoe"].startswith("no feasible mentor: no mentor speaks Tamil")
    assert dry["greedy"]["total_score"] <= dry["total_score"] + 1e-9
    assert api.client.get("/v1/matches", headers=api.auth("admin")).json() == []


def test_accept_decline_and_mentorship_link(team_api: tuple[Api, dict[str, int]]) -> None:
    api, ids = team_api
    with api.services.db.session() as session:
        mentee2_token = create_user(session, name="mentee2", role=Role.mentee)[1]
    report = api.client.post(
        "/v1/matching/cohort", headers=api.auth("admin"), json={"pins": [{"mentee": "mia", "mentor": "okay"}]}
    ).json()
    assert report["run_id"] is not None
    by_mentee = {m["mentee"]["key"]: m for m in report["matches"]}
    match = by_mentee["mia"]
    assert match["status"] == "proposed" and match["pinned"]
    accept = f"/v1/matches/{match['id']}/accept"

    outsider = {"Authorization": f"Bearer {mentee2_token}"}
    assert api.client.post(accept, headers=outsider).status_code == 403
    assert api.client.get("/v1/matches", headers=outsider).json() == []
    mine = api.client.get("/v1/matches", headers=api.auth("mentee")).json()
    assert [m["id"] for m in mine] == [match["id"]]

    half = api.client.post(accept, headers=api.auth("mentee")).json()
    assert half["status"] == "proposed" and half["mentee_accepted"] and not half["mentor_accepted"]
    done = api.client.post(accept, headers=api.auth("mentor")).json()
    assert done["status"] == "accepted" and done["linked"]
    with api.services.db.session() as session:
        mentor1 = session.scalar(select(User).where(User.name == "mentor1"))
        mentee1 = session.scalar(select(User).where(User.name == "mentee1"))
        assert mentor1 is not None and mentee1 is not None
        assert mentees_of(session, mentor1.id) == {mentee1.id}
    again = api.client.post(accept, headers=api.auth("mentor"))
    assert again.status_code == 409 and "already accepted" in again.json()["error"]["message"]
    assert api.client.post(f"/v1/matches/{match['id']}/decline", headers=api.auth("admin")).status_code == 409
    assert api.client.post("/v1/matches/999/accept", headers=api.auth("admin")).status_code == 404

    # ned's pair is declined by an admin and never proposed again; an accepted mentee is not re-matched
    ned = by_mentee["ned"]
    declined = api.client.post(f"/v1/matches/{ned['id']}/decline", headers=api.auth("admin")).json()
    assert declined["status"] == "declined"
    rec = api.client.get(f"/v1/mentees/{ids['ned']}/recommendations", headers=api.auth("admin")).json()
    assert ned["mentor"]["key"] not in [r["mentor"]["key"] for r in rec["results"]]
    assert rec["excluded"]["forbidden"] == 1
    second = api.client.post(
        "/v1/matching/cohort", headers=api.auth("admin"), json={"mentees": ["mia", "ned", "zoe"]}
    ).json()
    reasons = {u["mentee"]["key"]: u["reason"] for u in second["unmatched"]}
    assert reasons["mia"] == "already has an accepted mentor"
    assert all(
        m["mentor"]["key"] != ned["mentor"]["key"] for m in second["matches"] if m["mentee"]["key"] == "ned"
    )
    wider = api.client.get(f"/v1/mentees/{ids['ned']}/recommendations?k=10", headers=api.auth("admin")).json()
    assert all(r["places_left"] == 1 for r in wider["results"] if r["mentor"]["key"] == "okay"), (
        "2 - 1 accepted"
    )

    first_run = api.client.get(f"/v1/matching/runs/{report['run_id']}", headers=api.auth("admin")).json()
    assert first_run["matched"] == report["matched"]
    statuses = {m["id"]: m["status"] for m in api.client.get("/v1/matches", headers=api.auth("admin")).json()}
    assert statuses[match["id"]] == "accepted" and statuses[ned["id"]] == "declined"
    assert (
        api.client.get(f"/v1/matching/runs/{report['run_id']}", headers=api.auth("mentor")).status_code == 403
    )

    accepted = api.client.post(
        f"/v1/matching/runs/{second['run_id']}/accept", headers=api.auth("admin")
    ).json()
    assert len(accepted["accepted"]) == len(second["matches"])


def test_matching_flow_on_each_database(any_db_settings: Settings) -> None:
    services = Services(any_db_settings)
    services.db.create_tables()
    try:
        assert services.people.load_demo(seed=5, size=80).failed == []
        mentee = services.people.list_people(role="mentee", limit=1)[0]
        recommended = services.matching.recommend(mentee.id, k=3, principal=None)
        assert len(recommended.results) == 3
        report = services.matching.cohort(CohortRequest())
        assert report.matched > 0 and report.total_score >= report.greedy.total_score - 1e-9
        accepted, skipped = services.matching.accept_run(report.run_id or 0)
        assert len(accepted) == report.matched and skipped == []
        again = services.matching.cohort(CohortRequest(save=False))
        assert again.mentees == len(report.unmatched)
        with pytest.raises(NotFound):
            services.matching.recommend(2**40, k=1, principal=None)  # beyond a 32-bit id: no driver error
        with pytest.raises(InvalidInput, match="no mentee"):
            services.matching.cohort(CohortRequest(mentees=[2**40, "99999999999"]))
        with pytest.raises(InvalidInput, match="not a mentee"):
            services.matching.cohort(CohortRequest(pins=[PairRef(mentee=accepted[0].mentor.key, mentor="x")]))
    finally:
        services.close()


# ---- eval: precision@5 on evals/matching.jsonl -----------------------------------------------------------


def test_eval_file_follows_its_written_rule() -> None:
    spec = importlib.util.spec_from_file_location("build_matching", REPO / "evals" / "build_matching.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == load_cases()
    assert len(load_cases()) >= 20


def test_precision_at_5_with_fake_embeddings(services: Services) -> None:
    value = precision_at_5(services)
    print(f"\nmatching eval (fake embeddings): precision@5 = {value:.3f}")
    assert value >= 0.45


# ---- command line ----------------------------------------------------------------------------------------


def test_cli_recommend_and_match(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COLUMNS": "200",
    }
    settings = make_settings(tmp_path)
    assert str(settings.data_dir) == env["COMPANION_DATA_DIR"]
    services = Services(settings)
    services.db.create_tables()
    ids = load_team(services)
    services.close()

    shown = runner.invoke(cli_app, ["recommend", "mia", "-k", "2"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Mentors for Mia (mia)" in shown.stdout and "1. Good" in shown.stdout and "2. Okay" in shown.stdout
    assert "3 of 10 mentors meet every hard rule" in shown.stdout
    as_json = json.loads(runner.invoke(cli_app, ["recommend", str(ids["mia"]), "--json"], env=env).stdout)
    assert as_json["mentee"]["key"] == "mia"
    assert runner.invoke(cli_app, ["recommend", "good"], env=env).exit_code == 1

    matched = runner.invoke(
        cli_app, ["match", "--pin", "mia=okay", "--forbid", "ned=other", "--dry-run"], env=env
    )
    assert matched.exit_code == 0, matched.output
    assert "Cohort dry run (nothing stored): matched" in matched.stdout
    assert "Greedy baseline: matched" in matched.stdout and "no mentor speaks Tamil" in matched.stdout
    bad = runner.invoke(cli_app, ["match", "--pin", "mia"], env=env)
    assert bad.exit_code == 1 and "--pin takes MENTEE=MENTOR" in bad.stderr
    stored = runner.invoke(cli_app, ["match", "--accept", "--json"], env=env)
    report = json.loads(stored.stdout)
    assert report["run_id"] == 1 and report["notes"][0] == f"accepted {report['matched']} matches"
