"""Success dashboard: page time of `/admin/dashboard` at 2,000 and at 200 pairs.

For each size a temp SQLite database is seeded (bulk inserts, seeded `random.Random`): one program with
a past (ended) cycle and a current one (in week 16), each with `pairs` pairs; every pair gets sessions
with a varied rhythm (regular, slow, stopped, none: about 6 per pair), 0-3 goals with outcomes, and the
survey of each cycle gets answers from about 60% of the people. Then the signed-in admin page is fetched
through the ASGI app (TestClient, no network) `--repeat` times; reported: the median and the worst page
time, the service alone (figures without HTML, median), the SQL statements per page and the page size.

Prints one JSON object on stdout; progress goes to stderr.

    .venv/bin/python -m benchmarks.dashboard [--sizes 2000,200] [--repeat 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select

from benchmarks._common import emit, log
from companion.app import create_app
from companion.container import Services
from companion.identity.auth import Role, create_user
from companion.program.demo import QUESTIONS
from companion.storage.db import (
    Cycle,
    CycleMentorship,
    GoalRecord,
    Mentorship,
    Program,
    SessionRecord,
    Survey,
    SurveyResponse,
    User,
)
from tests.support.app import make_settings

PASSWORD = "bench-password-123"
TARGET_PAGE_MS = 1000.0  # at 2,000 pairs


def seed(services: Services, pairs: int, rng: random.Random, today: date) -> None:
    current_start = today - timedelta(weeks=15)
    past_start = current_start - timedelta(weeks=28)
    with services.db.session() as s:
        mentors = pairs // 2
        users = [{"name": f"mentor{i}", "role": "mentor"} for i in range(mentors)]
        users += [{"name": f"mentee{i}", "role": "mentee"} for i in range(pairs)]
        s.execute(insert(User), users)
        ids = dict(s.execute(select(User.name, User.id)).all())
        program = Program(name="Bench", cadence_days=14)
        s.add(program)
        s.flush()
        cycles = []
        for name, start in (("past", past_start), ("current", current_start)):
            cycle = Cycle(
                program_id=program.id,
                name=name,
                starts_on=start,
                ends_on=start + timedelta(weeks=26, days=-1),
            )
            s.add(cycle)
            s.flush()
            cycles.append(cycle)
        s.execute(
            insert(Mentorship),
            [
                {"mentor_user_id": ids[f"mentor{i % mentors}"], "mentee_user_id": ids[f"mentee{i}"]}
                for i in range(pairs)
            ],
        )
        pair_rows = s.execute(
            select(Mentorship.id, Mentorship.mentor_user_id, Mentorship.mentee_user_id)
        ).all()
        sessions: list[dict[str, Any]] = []
        goals: list[dict[str, Any]] = []
        for cycle in cycles:
            s.execute(
                insert(CycleMentorship), [{"cycle_id": cycle.id, "mentorship_id": p[0]} for p in pair_rows]
            )
            until = min(today, cycle.ends_on)
            for _, mentor, mentee in pair_rows:
                kind = rng.choices(("regular", "slow", "stopped", "none"), weights=(50, 25, 15, 10))[0]
                step = 14 if kind != "slow" else 28
                stop = until - timedelta(days=40) if kind == "stopped" else until
                day = cycle.starts_on + timedelta(days=rng.randint(1, 6))
                while kind != "none" and day <= stop:
                    sessions.append(
                        {
                            "mentee_user_id": mentee,
                            "mentor_user_id": mentor,
                            "held_on": day,
                            "length_minutes": 60,
                            "notes": "",
                        }
                    )
                    day += timedelta(days=step + rng.randint(-2, 2))
                for _ in range(rng.randint(0, 3)):
                    set_on = cycle.starts_on + timedelta(days=rng.randint(0, 50))
                    status = rng.choice(("active", "achieved", "dropped", "achieved"))
                    goals.append(
                        {
                            "mentee_user_id": mentee,
                            "statement": "A goal",
                            "status": status,
                            "cycle_id": cycle.id,
                            "created_at": datetime.combine(set_on, datetime.min.time(), tzinfo=UTC),
                            "closed_on": set_on + timedelta(days=30) if status != "active" else None,
                            "first_steps": [],
                            "citations": [],
                        }
                    )
        s.execute(insert(SessionRecord), sessions)
        s.execute(insert(GoalRecord), goals)
        people = [p[2] for p in pair_rows] + sorted({p[1] for p in pair_rows})
        for cycle in cycles:
            survey = Survey(cycle_id=cycle.id, kind="mid", title=f"Mid {cycle.name}", questions=QUESTIONS)
            s.add(survey)
            s.flush()
            s.execute(
                insert(SurveyResponse),
                [
                    {
                        "survey_id": survey.id,
                        "user_id": uid,
                        "role": "mentee",
                        "answers": {k: rng.randint(1, 5) for k in ("useful", "rhythm", "recommend")},
                    }
                    for uid in people
                    if rng.random() < 0.6
                ],
            )
        log(f"{pairs} pairs: {len(sessions)} sessions, {len(goals)} goals")


def measure(pairs: int, repeat: int, seed_value: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(make_settings(Path(tmp)))
        services.db.create_tables()
        seed(services, pairs, random.Random(seed_value), date.today())
        with services.db.session() as s:
            create_user(s, name="admin", role=Role.admin)
        services.accounts.set_password("admin", PASSWORD)
        statements = [0]

        def count(*_: object) -> None:
            statements[0] += 1

        with TestClient(create_app(services.settings, services=services), follow_redirects=False) as client:
            assert client.post("/signin", data={"name": "admin", "password": PASSWORD}).status_code == 303
            client.get("/admin/dashboard")  # warm: templates compiled, connections open
            times, size = [], 0
            event.listen(services.db.engine, "before_cursor_execute", count)
            for _ in range(repeat):
                statements[0] = 0
                start = time.perf_counter()
                page = client.get("/admin/dashboard")
                times.append((time.perf_counter() - start) * 1000)
                assert page.status_code == 200 and 'id="table-trend"' in page.text
                size = len(page.content)
            per_page = statements[0]
            event.remove(services.db.engine, "before_cursor_execute", count)
            service_times = []
            for _ in range(repeat):
                start = time.perf_counter()
                dash = services.dashboard.dashboard()
                service_times.append((time.perf_counter() - start) * 1000)
        services.close()
    assert dash.summary is not None
    result = {
        "pairs": pairs,
        "page_ms_median": round(statistics.median(times), 1),
        "page_ms_max": round(max(times), 1),
        "service_ms_median": round(statistics.median(service_times), 1),
        "sql_statements_per_page": per_page,
        "page_kib": round(size / 1024, 1),
        "sessions": dash.summary.sessions,
        "at_risk": dash.summary.at_risk,
    }
    log(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="2000,200", help="comma-separated numbers of pairs")
    parser.add_argument("--repeat", type=int, default=5, help="page loads per size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    results = {f"pairs_{n}": measure(n, args.repeat, args.seed) for n in sizes}
    big = results.get("pairs_2000")
    emit(
        {
            "benchmark": "dashboard",
            "database": "sqlite (temp file)",
            "results": results,
            "target_page_ms_at_2000": TARGET_PAGE_MS,
            "meets_target": None if big is None else big["page_ms_median"] <= TARGET_PAGE_MS,
        }
    )


if __name__ == "__main__":
    main()
