"""Bounded load test of `companion serve` on SQLite or PostgreSQL: throughput, p50/p99, errors, lost writes.

1. Seeds a fresh database (SQLite in a temp data dir, or a fresh schema on PostgreSQL): the demo
   organization (`people.load_demo`, like `companion people demo`), an admin, and one user account
   with its own API token per client. Four clients in five are mentees linked to a demo mentee
   profile; the fifth is a mentor linked to a mentor profile and, by mentorship, to the four mentees
   before it.
2. Starts `python -m companion serve` on a free loopback port as a subprocess. On this first start it
   ingests the sample guides from knowledge/ itself. The rate limiter stays on, with limits far above
   what the clients send (every client has its own token anyway); LLM endpoints are not part of the
   mix (each takes seconds on this CPU), so the chat model is set to `fake` and is never called.
3. Runs `--clients` concurrent clients (asyncio + httpx, one connection each, no think time) for
   `--seconds`: searches, recommendations, reads (goals, sessions, documents, own profile) and writes
   (new goals, new sessions with notes, note edits). Every write carries a unique marker.
4. Stops the clients (requests in flight finish and count), then reads the database directly:
   `lost_writes` counts acknowledged (2xx) writes whose marker is not where it should be.

    .venv/bin/python -m benchmarks.load [--db sqlite|postgres] [--clients 50] [--seconds 60] \
        [--fake-embeddings] [--postgres-url URL]

The machinery (`LoadConfig`, `run`) is imported by tests/test_load.py, which runs it small.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from benchmarks._common import (
    TICK,
    CpuMonitor,
    add_wait_quiet_option,
    emit,
    log,
    percentile,
    process_jiffies,
    queries,
    r,
    wait_for_quiet,
)
from tests.support.server import Serve

POSTGRES_ENV = "COMPANION_TEST_POSTGRES_URL"
APPLICATION_NAME = "companion-load"  # marks the server's PostgreSQL connections, to count their CPU
# far above what 50 closed-loop clients can send; the limiter still runs on every request
RATE_LIMIT_PER_MINUTE = 1_000_000
RATE_LIMIT_BURST = 100_000

# share of each request kind in a client's mix (mentors skip recommendations: they get 403 by design)
MIX = {
    "search": 30,
    "recommendations": 15,
    "read_goals": 9,
    "read_sessions": 9,
    "read_documents": 8,
    "read_me": 9,
    "write_goal": 7,
    "write_session": 7,
    "patch_session": 6,
}
GROUPS = {
    "search": ["search"],
    "recommendations": ["recommendations"],
    "reads": ["read_goals", "read_sessions", "read_documents", "read_me"],
    "writes": ["write_goal", "write_session", "patch_session"],
}
HANDBOOK_QUESTIONS = [
    "how do I set SMART goals with my mentee?",
    "what should happen in the first mentoring session?",
    "how do I give difficult feedback?",
    "what is the difference between coaching and mentoring?",
    "how are mentors and mentees matched?",
    "how do we end a mentoring relationship well?",
    "tips for remote mentoring over video calls",
    "who can nominate a mentor for the Lantern Award?",
    "what is active listening?",
    "how often should mentoring sessions happen?",
]
WRITE_LETTER = {"write_goal": "g", "write_session": "s", "patch_session": "p"}
MARKER = re.compile(r"\bload-[0-9a-f]{8}-c\d+-[gsp]\d+\b")


@dataclass
class LoadConfig:
    clients: int = 50
    seconds: float = 60.0
    database_url: str | None = None  # None: SQLite in the data dir
    embeddings: str = "model"  # model | fake
    demo_size: int = 300
    seed: int = 7
    request_timeout: float = 120.0
    ready_timeout: float = 900.0
    warmup: bool = True
    server_env: dict[str, str] = field(default_factory=dict)  # extra COMPANION_* settings for the server


@dataclass
class Identity:
    """One client's account: a mentee (own records, own recommendations) or a mentor (their mentees')."""

    index: int
    role: str
    user_id: int
    person_id: int
    token: str
    mentee_user_ids: list[int] = field(default_factory=list)


@dataclass
class Tally:
    """What the clients did: latencies and statuses per kind, and every write they sent."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    goal_markers: set[str] = field(default_factory=set)  # acknowledged new goals
    session_created: dict[int, str] = field(default_factory=dict)  # session id -> marker it was created with
    session_patches: dict[int, list[tuple[str, bool]]] = field(default_factory=dict)  # id -> (marker, acked)
    unacked_writes: int = 0
    mismatched_echo: int = 0  # a 2xx write whose response did not carry what was sent

    def record(self, kind: str, seconds: float, status: str) -> None:
        self.latencies.setdefault(kind, []).append(seconds * 1000)
        self.statuses.setdefault(kind, Counter())[status] += 1


# ---- database and seeding ---------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one run (like tests/conftest.py), dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"load_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _settings(config: LoadConfig, data_dir: Path) -> Any:
    from companion.settings import Settings

    values: dict[str, Any] = {"data_dir": data_dir, "embeddings": {"mode": config.embeddings}}
    if config.database_url:
        values["database_url"] = config.database_url
    return Settings(**values)


def seed(config: LoadConfig, data_dir: Path) -> tuple[list[Identity], dict[str, Any]]:
    """The demo organization, an admin and one account per client, straight through the services."""
    from sqlalchemy import select

    from companion.container import Services
    from companion.identity.auth import Role, create_user, link_mentorship
    from companion.storage.db import Person

    services = Services(_settings(config, data_dir))
    t0 = time.perf_counter()
    try:
        services.db.create_tables()
        report = services.people.load_demo(seed=config.seed, size=config.demo_size)
        identities: list[Identity] = []
        with services.db.session() as session:
            create_user(session, name="admin", role=Role.admin)
            mentees = list(session.scalars(select(Person).where(Person.role == "mentee").order_by(Person.id)))
            mentors = list(session.scalars(select(Person).where(Person.role == "mentor").order_by(Person.id)))
            group: list[int] = []
            for i in range(config.clients):
                role = Role.mentor if i % 5 == 4 else Role.mentee
                pool = mentors if role == Role.mentor else mentees
                if not pool:
                    raise SystemExit(
                        f"the demo organization has no {role.value}s left for {config.clients} clients"
                    )
                person = pool.pop(0)
                user, token = create_user(session, name=f"load-{role.value}-{i}", role=role)
                person.user_id = user.id
                ident = Identity(i, role.value, user.id, person.id, token)
                if role == Role.mentor:
                    for mentee_user in group:
                        link_mentorship(session, mentor_user_id=user.id, mentee_user_id=mentee_user)
                    ident.mentee_user_ids = list(group)
                    group = []
                else:
                    group.append(user.id)
                identities.append(ident)
    finally:
        services.close()
    info = {
        "demo_people": len(report.created),
        "mentee_clients": sum(1 for i in identities if i.role == "mentee"),
        "mentor_clients": sum(1 for i in identities if i.role == "mentor"),
        "seed_s": r(time.perf_counter() - t0),
    }
    return identities, info


# ---- the server ---------------------------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base_url: str
    log_path: Path
    ready_s: float


@contextlib.contextmanager
def serve(config: LoadConfig, data_dir: Path, log_path: Path) -> Iterator[Server]:
    """`python -m companion serve` on a free loopback port (the shared launcher), stopped with SIGINT."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPANION_")}
    env.update(
        COMPANION_DATA_DIR=str(data_dir),
        COMPANION_EMBEDDINGS__MODE=config.embeddings,
        COMPANION_LLM__MODE="fake",
        COMPANION_SECURITY__RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT_PER_MINUTE),
        COMPANION_SECURITY__RATE_LIMIT_BURST=str(RATE_LIMIT_BURST),
        COLUMNS="200",
        PYTHONUNBUFFERED="1",
        ANONYMIZED_TELEMETRY="False",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    if config.database_url:
        sep = "&" if "?" in config.database_url else "?"
        env["COMPANION_DATABASE_URL"] = f"{config.database_url}{sep}application_name={APPLICATION_NAME}"
    env.update(config.server_env)
    server = Serve(
        env=env, inherit_env=False, cwd=data_dir.parent, log=log_path, ready_timeout=config.ready_timeout
    )
    server.start()
    assert server.process is not None
    log(f"started companion serve pid {server.process.pid} on {server.base_url} (log: {log_path})")
    try:
        ready_s = server.wait_ready()
        yield Server(server.process, server.base_url, log_path, ready_s)
    finally:
        server.stop()


def server_log_summary(log_path: Path) -> dict[str, Any]:
    """Counts from the server's log: 5xx in the access log, tracebacks, and the first error lines."""
    text = log_path.read_text(errors="replace")
    lines = text.splitlines()
    access = re.compile(r'"(?:GET|POST|PUT|PATCH|DELETE) [^"]*" (\d{3})')
    statuses: Counter[str] = Counter()
    for line in lines:
        if m := access.search(line):
            statuses[m.group(1)] += 1
    problems = [ln for ln in lines if "Traceback" in ln or "ERROR" in ln or "locked" in ln.lower()]
    return {
        "access_log_statuses": dict(sorted(statuses.items())),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "error_lines": problems[:10],
    }


# ---- the clients --------------------------------------------------------------------------------------


def _kinds_for(ident: Identity) -> tuple[list[str], list[int]]:
    kinds = [k for k in MIX if not (k == "recommendations" and ident.role == "mentor")]
    return kinds, [MIX[k] for k in kinds]


async def _client(
    ident: Identity, base_url: str, config: LoadConfig, deadline: float, run_id: str, tally: Tally
) -> None:
    import httpx

    rng = random.Random(f"{config.seed}-{ident.index}")
    search_queries = HANDBOOK_QUESTIONS + queries(rng, 40)
    kinds, weights = _kinds_for(ident)
    own_sessions: list[int] = []
    mentees = ident.mentee_user_ids or [ident.user_id]
    writes = 0
    headers = {"Authorization": f"Bearer {ident.token}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=config.request_timeout, limits=limits, trust_env=False
    ) as client:
        while time.perf_counter() < deadline:
            kind = rng.choices(kinds, weights)[0]
            if kind == "patch_session" and not own_sessions:
                kind = "write_session"
            mentee = rng.choice(mentees)
            marker = ""
            if kind in ("write_goal", "write_session", "patch_session"):
                writes += 1
                marker = f"load-{run_id}-c{ident.index}-{WRITE_LETTER[kind]}{writes}"
            method, url, body, target = _request(
                kind, ident, mentee, marker, rng, search_queries, own_sessions
            )
            t0 = time.perf_counter()
            resp: httpx.Response | None = None
            try:
                resp = await client.request(method, url, json=body)
                status = str(resp.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            tally.record(kind, time.perf_counter() - t0, status)
            if marker:
                ok = resp is not None and 200 <= resp.status_code < 300
                _note_write(kind, marker, target, resp.json() if ok and resp else None, tally, own_sessions)


def _request(
    kind: str,
    ident: Identity,
    mentee: int,
    marker: str,
    rng: random.Random,
    search_queries: list[str],
    own_sessions: list[int],
) -> tuple[str, str, Any, int | None]:
    """Method, path, JSON body and (for a note edit) the session edited."""
    if kind == "search":
        return "POST", "/v1/search", {"query": rng.choice(search_queries), "k": 5}, None
    if kind == "recommendations":
        return "GET", f"/v1/mentees/{ident.person_id}/recommendations?k=5", None, None
    if kind == "read_goals":
        return "GET", f"/v1/mentees/{mentee}/goals", None, None
    if kind == "read_sessions":
        return "GET", f"/v1/sessions?mentee_id={mentee}", None, None
    if kind == "read_documents":
        return "GET", "/v1/knowledge/documents", None, None
    if kind == "read_me":
        return "GET", "/v1/people/me", None, None
    if kind == "write_goal":
        goal = {
            "statement": f"Run practice sessions on giving feedback by next quarter ({marker})",
            "measure": f"{rng.randint(2, 6)} practice sessions noted in the mentoring notebook",
            "target_date": (date.today() + timedelta(days=rng.randint(30, 180))).isoformat(),
            "first_steps": ["Pick the first situation to practise", "Book a slot with the mentor"],
        }
        return "POST", f"/v1/mentees/{mentee}/goals", [goal], None
    if kind == "write_session":
        notes = f"Talked through the goal tracker and agreed two actions. Marker {marker}."
        held_on = (date.today() - timedelta(days=rng.randint(0, 300))).isoformat()
        return "POST", "/v1/sessions", {"mentee_id": mentee, "held_on": held_on, "notes": notes}, None
    if kind == "patch_session":
        session_id = rng.choice(own_sessions)
        notes = f"Updated after the session: actions done, one blocked. Marker {marker}."
        return "PATCH", f"/v1/sessions/{session_id}", {"notes": notes}, session_id
    raise ValueError(kind)


def _note_write(
    kind: str, marker: str, target: int | None, data: Any, tally: Tally, own_sessions: list[int]
) -> None:
    """Remember a write (`data` is the 2xx response body, None when not acknowledged): every
    acknowledged write must be found in the database at the end."""
    if data is None:
        tally.unacked_writes += 1
        if kind == "patch_session" and target is not None:
            # maybe applied, maybe not: a later check accepts it as the final notes but never requires it
            tally.session_patches.setdefault(target, []).append((marker, False))
        return
    if kind == "write_goal":
        echoed = data[0]["statement"]
        tally.goal_markers.add(marker)
    elif kind == "write_session":
        echoed = data["notes"]
        tally.session_created[int(data["id"])] = marker
        own_sessions.append(int(data["id"]))
    else:
        echoed = data["notes"]
        tally.session_patches.setdefault(int(data["id"]), []).append((marker, True))
    if marker not in MARKER.findall(echoed):
        tally.mismatched_echo += 1


async def _run_clients(
    identities: list[Identity], base_url: str, config: LoadConfig, run_id: str
) -> tuple[Tally, float]:
    tally = Tally()
    start = time.perf_counter()
    deadline = start + config.seconds
    await asyncio.gather(*(_client(ident, base_url, config, deadline, run_id, tally) for ident in identities))
    return tally, time.perf_counter() - start


async def _warmup(identities: list[Identity], base_url: str) -> dict[str, Any]:
    """One request of each read kind, not measured: the first search builds the keyword index and the
    first recommendation loads every profile vector into the mentor pool."""
    import httpx

    ident = next(i for i in identities if i.role == "mentee")
    t0 = time.perf_counter()
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {ident.token}"}, timeout=300.0, trust_env=False
    ) as client:
        for kind in ("search", "recommendations", "read_goals", "read_sessions", "read_documents", "read_me"):
            method, url, body, _ = _request(
                kind, ident, ident.user_id, "", random.Random(0), HANDBOOK_QUESTIONS, []
            )
            statuses[kind] = (await client.request(method, url, json=body)).status_code
    bad = {k: v for k, v in statuses.items() if v != 200}
    if bad:
        raise RuntimeError(f"warm-up requests failed: {bad}")
    return {"requests": len(statuses), "seconds": r(time.perf_counter() - t0)}


def postgres_backend_jiffies(database_url: str) -> dict[int, int]:
    """CPU time so far of each PostgreSQL backend serving the Companion server (local server only)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            pids = conn.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": APPLICATION_NAME},
            ).all()
    finally:
        engine.dispose()
    return {int(pid): process_jiffies(int(pid)) for pid in pids}


# ---- checking the database ----------------------------------------------------------------------------


def verify_writes(database_url: str, run_id: str, tally: Tally) -> dict[str, Any]:
    """Every acknowledged write must be in the database: each new goal's marker in a goal statement;
    each new session's row; each edited session's notes carrying its last acknowledged edit (or an
    unacknowledged edit sent after it, which may have been applied)."""
    from sqlalchemy import select

    from companion.storage.db import Database, GoalRecord, SessionRecord

    db = Database(database_url)
    try:
        with db.session() as session:
            statements = session.scalars(
                select(GoalRecord.statement).where(GoalRecord.statement.contains(f"load-{run_id}-"))
            ).all()
            notes_by_id = (
                {
                    int(sid): notes
                    for sid, notes in session.execute(
                        select(SessionRecord.id, SessionRecord.notes).where(
                            SessionRecord.id.in_(list(tally.session_created))
                        )
                    ).all()
                }
                if tally.session_created
                else {}
            )
    finally:
        db.dispose()
    goals_found = Counter(m for text in statements for m in MARKER.findall(text))
    lost_goals = sorted(m for m in tally.goal_markers if goals_found[m] == 0)
    lost_sessions: list[int] = []
    lost_edits: list[int] = []
    for sid, created in sorted(tally.session_created.items()):
        notes = notes_by_id.get(sid)
        patches = tally.session_patches.get(sid, [])
        acked = [i for i, (_, ok) in enumerate(patches) if ok]
        if notes is None:
            lost_sessions.append(sid)
            continue
        found = set(MARKER.findall(notes))  # whole markers: `...-s1` must not match `...-s12`
        if not acked:
            if not found & {created, *(m for m, _ in patches)}:
                lost_sessions.append(sid)
        elif not found & {m for m, _ in patches[acked[-1] :]}:
            lost_edits.append(sid)
    acked_edits = sum(ok for patches in tally.session_patches.values() for _, ok in patches)
    return {
        "acknowledged": {
            "write_goal": len(tally.goal_markers),
            "write_session": len(tally.session_created),
            "patch_session": acked_edits,
            "sessions_edited": sum(1 for p in tally.session_patches.values() if any(ok for _, ok in p)),
        },
        "lost_writes": len(lost_goals) + len(lost_sessions) + len(lost_edits),
        "lost": {"goals": lost_goals[:20], "sessions": lost_sessions[:20], "session_edits": lost_edits[:20]},
        "duplicated_goals": sum(n - 1 for n in goals_found.values() if n > 1),
        "unacknowledged_writes": tally.unacked_writes,
        "response_did_not_echo_write": tally.mismatched_echo,
        "checked_in": "the database, with SQL, after the server stopped",
    }


# ---- the whole run ------------------------------------------------------------------------------------


def _stats(latencies: list[float], statuses: Counter[str], elapsed: float) -> dict[str, Any]:
    ok = sum(n for s, n in statuses.items() if s.isdigit() and 200 <= int(s) < 300)
    requests = sum(statuses.values())
    return {
        "requests": requests,
        "throughput_rps": r(requests / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": r(percentile(latencies, 50), 1) if latencies else None,
        "p99_ms": r(percentile(latencies, 99), 1) if latencies else None,
        "max_ms": r(max(latencies), 1) if latencies else None,
        "errors": requests - ok,
    }


def summarise(tally: Tally, elapsed: float) -> dict[str, Any]:
    def merged(kinds: list[str]) -> tuple[list[float], Counter[str]]:
        lat: list[float] = []
        st: Counter[str] = Counter()
        for k in kinds:
            lat += tally.latencies.get(k, [])
            st.update(tally.statuses.get(k, Counter()))
        return lat, st

    by_kind = {k: _stats(*merged([k]), elapsed) for k in MIX if k in tally.statuses}
    by_group = {g: _stats(*merged(kinds), elapsed) for g, kinds in GROUPS.items()}
    overall = _stats(*merged(list(MIX)), elapsed)
    errors: Counter[str] = Counter()
    for kind, statuses in tally.statuses.items():
        for status, n in statuses.items():
            if not (status.isdigit() and 200 <= int(status) < 300):
                errors[f"{kind} {status}"] += n
    return {
        "overall": overall,
        "by_group": by_group,
        "by_kind": by_kind,
        "errors": overall["errors"],
        "errors_by_kind_and_status": dict(sorted(errors.items())),
    }


T = TypeVar("T")


def _run_async(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own, so it also works where the caller's thread already runs an
    event loop (e.g. pytest after Playwright's sync API has started one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def run(config: LoadConfig, work_dir: Path, *, wait_quiet: float = 0.0) -> dict[str, Any]:
    """Seed, serve, load, stop, check. Returns the JSON-ready result."""
    data_dir = work_dir / "data"
    identities, seed_info = seed(config, data_dir)
    database_url = _settings(config, data_dir).resolved_database_url
    run_id = uuid.uuid4().hex[:8]
    quiet: dict[str, Any] = {}
    with serve(config, data_dir, work_dir / "server.log") as server:
        log(f"server ready in {server.ready_s:.1f} s; warming up")
        warmup = _run_async(_warmup(identities, server.base_url)) if config.warmup else None
        quiet = wait_for_quiet(wait_quiet)
        log(f"{config.clients} clients for {config.seconds:g} s")
        postgres = database_url.startswith("postgresql")
        pg_before = postgres_backend_jiffies(database_url) if postgres else {}
        cpu = CpuMonitor([server.proc.pid])
        tally, elapsed = _run_async(_run_clients(identities, server.base_url, config, run_id))
        cpu_result = cpu.result()
        if postgres:
            # the database's backends work for this run: count them with it, not as other load
            pg_after = postgres_backend_jiffies(database_url)
            used = sum(max(0, j - pg_before.get(pid, 0)) for pid, j in pg_after.items())
            pg_cores = r(used / TICK / cpu_result["seconds"], 2)
            cpu_result["postgres_backends"] = len(pg_after)
            cpu_result["postgres_cores"] = pg_cores
            cpu_result["other_cores"] = r(max(0.0, cpu_result["other_cores"] - pg_cores), 2)
        ready_s = server.ready_s
    summary = summarise(tally, elapsed)
    writes = verify_writes(database_url, run_id, tally)
    return {
        "benchmark": "load",
        "db": "postgresql"
        if config.database_url and config.database_url.startswith("postgresql")
        else "sqlite",
        "clients": config.clients,
        "seconds": config.seconds,
        "elapsed_s": r(elapsed),
        "embeddings": config.embeddings,
        "server_env": config.server_env,
        **summary,
        "lost_writes": writes["lost_writes"],
        "writes": writes,
        "mix_weights": MIX,
        "not_in_mix": "LLM endpoints (/v1/goals/draft, /v1/sessions/prep, /v1/feedback/coach, /v1/ask): "
        "each takes seconds of CPU here; the server runs with llm.mode=fake and never calls a model",
        "rate_limit": {
            "per_minute": RATE_LIMIT_PER_MINUTE,
            "burst": RATE_LIMIT_BURST,
            "note": "set in the server's environment for this run, far above what the clients send; the "
            "limiter stays on and every client has its own token (defaults unchanged: 600/min, burst 200)",
        },
        "clients_detail": {
            **seed_info,
            "connections": "one keep-alive connection per client, no think time (closed loop)",
        },
        "server_ready_s": r(ready_s),
        "warmup": warmup,
        "server_log": server_log_summary(work_dir / "server.log"),
        "cpu": cpu_result,
        "other_cores": cpu_result["other_cores"],
        "wait_quiet": quiet,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db", choices=["sqlite", "postgres"], default="sqlite", help="database (default sqlite)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_ENV),
        help=f"PostgreSQL URL for --db postgres (default ${POSTGRES_ENV}); runs in a fresh schema",
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the clients run (default 60)")
    parser.add_argument(
        "--fake-embeddings", action="store_true", help="hashed fake embeddings instead of the packaged model"
    )
    parser.add_argument(
        "--demo-size", type=int, default=300, help="people in the demo organization (default 300)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="client timeout per request, s (default 120)"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra setting for the server, e.g. COMPANION_EMBEDDINGS__THREADS=1 (repeatable)",
    )
    add_wait_quiet_option(parser)
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)
    config = LoadConfig(
        clients=args.clients,
        seconds=args.seconds,
        embeddings="fake" if args.fake_embeddings else "model",
        demo_size=args.demo_size,
        seed=args.seed,
        request_timeout=args.timeout,
        server_env=server_env,
    )
    work_dir = Path(tempfile.mkdtemp(prefix="companion-bench-load-"))
    try:
        if args.db == "postgres":
            if not args.postgres_url:
                raise SystemExit(f"--db postgres needs --postgres-url or ${POSTGRES_ENV}")
            with postgres_schema(args.postgres_url) as url:
                config.database_url = url
                result = run(config, work_dir, wait_quiet=args.wait_quiet)
        else:
            result = run(config, work_dir, wait_quiet=args.wait_quiet)
        emit(result)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
