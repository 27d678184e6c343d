"""Sample mentor and mentee profiles, and loading a small team."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from companion.container import Services
from companion.storage.db import Person, User
from tests.support.app import REPO

MENTOR = {
    "email": "rosa.mentor@larkfield.example",
    "name": "Rosa Mentor",
    "role": "mentor",
    "department": "Firmware Engineering",
    "site": "Leeds",
    "timezone": "Europe/London",
    "languages": ["English"],
    "skills": ["embedded c", "rtos"],
    "expertise": "I have written embedded C for sensors for ten years.",
    "capacity": 2,
}


MENTEE = {
    "email": "sam.mentee@larkfield.example",
    "name": "Sam Mentee",
    "role": "mentee",
    "department": "Platform Engineering",
    "site": "Lisbon",
    "timezone": "Europe/Lisbon",
    "languages": "english; portuguese",
    "skills": ["rtos"],
    "goals": "I want to understand RTOS scheduling.",
}


TEAM: list[dict[str, Any]] = [
    {
        "id": "boss",
        "role": "mentor",
        "timezone": "Europe/London",
        "skills": "rtos; embedded c",
        "expertise": "I tuned RTOS scheduling for embedded C firmware.",
    },
    {
        "id": "lead",
        "role": "mentor",
        "manager": "boss",
        "timezone": "Europe/London",
        "skills": "rtos; embedded c",
        "expertise": "I tuned RTOS scheduling for embedded C firmware.",
    },
    {
        "id": "mia",
        "role": "mentee",
        "manager": "lead",
        "timezone": "Europe/London",
        "skills": "rtos; embedded c",
        "goals": "I want to understand RTOS scheduling for embedded C firmware.",
        "prefer_department": "different",
        "avoid": "avoided",
    },
    {
        "id": "report",
        "role": "mentor",
        "manager": "mia",
        "timezone": "Europe/London",
        "skills": "rtos",
        "expertise": "I tuned RTOS scheduling for embedded C firmware.",
    },
    {
        "id": "far",
        "role": "mentor",
        "timezone": "Pacific/Auckland",
        "skills": "rtos; embedded c",
        "expertise": "I tuned RTOS scheduling for embedded C firmware.",
    },
    {
        "id": "french",
        "role": "mentor",
        "timezone": "Europe/Paris",
        "languages": "french",
        "skills": "rtos; embedded c",
        "expertise": "I tuned RTOS scheduling for embedded C firmware.",
    },
    {
        "id": "full",
        "role": "mentor",
        "timezone": "Europe/London",
        "skills": "rtos; embedded c",
        "capacity": "0",
        "expertise": "I tuned RTOS scheduling for embedded C firmware.",
    },
    {
        "id": "avoided",
        "role": "mentor",
        "timezone": "Europe/London",
        "skills": "rtos; embedded c",
        "expertise": "I tuned RTOS scheduling for embedded C firmware.",
    },
    {
        "id": "good",
        "role": "mentor",
        "timezone": "Europe/Lisbon",
        "skills": "rtos; embedded c; public speaking",
        "department": "Platform",
        "expertise": "I tuned RTOS scheduling on embedded C firmware for sensors.",
    },
    {
        "id": "okay",
        "role": "mentor",
        "timezone": "America/Toronto",
        "skills": "embedded c",
        "department": "Platform",
        "expertise": "I write embedded C drivers.",
    },
    {
        "id": "other",
        "role": "mentor",
        "timezone": "Asia/Kolkata",
        "skills": "sql",
        "expertise": "I write SQL reports.",
    },
    {
        "id": "ned",
        "role": "mentee",
        "timezone": "Europe/London",
        "skills": "sql",
        "goals": "I want to write faster SQL reports.",
    },
    {
        "id": "zoe",
        "role": "mentee",
        "timezone": "Asia/Kolkata",
        "languages": "tamil",
        "skills": "sql",
        "goals": "I want to write SQL.",
    },
]


def load_team(services: Services) -> dict[str, int]:
    rows = [{"name": r["id"].title(), "languages": "english", "department": "Firmware", **r} for r in TEAM]
    report = services.people.import_rows(list(enumerate(rows, start=1)))
    assert report.failed == [], report.failed
    with services.db.session() as session:
        return {p.key: p.id for p in session.scalars(select(Person))}


def link(services: Services, key: str, user: str) -> None:
    with services.db.session() as session:
        person = session.scalar(select(Person).where(Person.key == key))
        account = session.scalar(select(User).where(User.name == user))
        assert person is not None and account is not None
        person.user_id = account.id


def load_cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (REPO / "evals" / "matching.jsonl").read_text().splitlines() if line]


def precision_at_5(services: Services) -> float:
    cases = load_cases()
    services.people.load_demo(seed=cases[0]["org"]["seed"], size=cases[0]["org"]["size"])
    total = 0.0
    for case in cases:
        results = services.matching.recommend(case["mentee"], k=5, principal=None).results
        total += sum(r.mentor.key in case["acceptable"] for r in results) / 5
    return total / len(cases)
