"""Eval runner, run storage and run comparison.

A suite is a JSONL file in `evals/`; each case runs through the assistant (as an admin) or the
recommender, is scored by the deterministic metrics of `metrics.py` (plus, optionally, an LLM judge with
the rubric in `prompts/judge.j2`), and is stored with its inputs, retrieved context, output and every
metric's value and reason. Two runs compare case by case into regressions and improvements.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from statistics import mean
from typing import Any, cast
from xml.etree import ElementTree as ET

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from companion.assets import require_file
from companion.assistant.llm import ChatModel
from companion.assistant.models import (
    AskRequest,
    AskResponse,
    FeedbackRequest,
    FeedbackResponse,
    GoalDraftRequest,
    GoalDraftResponse,
    SessionPrepRequest,
    SessionPrepResponse,
)
from companion.assistant.policy import Calibration, CalibrationStore
from companion.assistant.prompts import PromptLibrary
from companion.assistant.service import EXCERPT_CHARS, MentoringService
from companion.errors import BackendTimeout, BackendUnavailable, CompanionError, InvalidInput, NotFound
from companion.evaluation import metrics as m
from companion.evaluation import quality as q
from companion.evaluation.schemas import (
    CaseChange,
    CompareReport,
    EvalResultOut,
    EvalResultTrace,
    EvalRunDetail,
    EvalRunOut,
    JudgeAgreement,
    LabelIn,
    LabelOut,
    MetricValue,
    SuiteSummary,
)
from companion.identity.auth import Principal, Role
from companion.knowledge.retrieval import Retriever
from companion.knowledge.schemas import RetrievedChunk
from companion.matching.service import MatchingService
from companion.schemas import is_db_id
from companion.settings import EvalSettings, Settings
from companion.storage.db import Database, EvalLabel, EvalResult, EvalRun, Person

EVAL_PRINCIPAL = Principal(id=0, name="eval", role=Role.admin)
SUITES = {
    "goals": "goals.jsonl",
    "session_prep": "session_prep.jsonl",
    "feedback": "feedback.jsonl",
    "ask": "ask.jsonl",
    "adversarial": "adversarial.jsonl",
    "matching": "matching.jsonl",
}
CALIBRATED = ("goals", "session_prep", "feedback", "ask")  # the task suites, one per assistant task
INFORMATIONAL = frozenset({"origin", "judge", "model_pass"})
GROUNDED = "grounded:"  # prefix of the quality metrics measured on the composer's draft alone (informational)
QUALITY = {
    "ask": ("key_point_coverage", "groundedness"),
    "goals": ("goal_specificity", "smart"),
    "agenda": ("minutes_add_up",),
    "feedback": ("behaviour_kept", "no_blanks", "judgments_removed"),
}
_RESPONSES: dict[str, type[BaseModel]] = {
    "goals": GoalDraftResponse,
    "agenda": SessionPrepResponse,
    "feedback": FeedbackResponse,
    "ask": AskResponse,
}


@dataclass
class Case:
    suite: str
    id: str
    task: str
    inputs: dict[str, Any]
    expect: dict[str, Any]
    guide: str | None = None


@dataclass
class CaseOutcome:
    case: Case
    context: list[dict[str, Any]] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    origin: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, metric: m.Metric) -> None:
        value, reason = metric
        gate = name not in INFORMATIONAL and not name.startswith(GROUNDED)
        self.metrics[name] = MetricValue(value=value, reason=reason, gate=gate)

    @property
    def score(self) -> float:
        gated = [v.value for v in self.metrics.values() if v.gate]
        return round(mean(gated), 4) if gated else 0.0


class JudgeVerdict(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str = Field(max_length=300)


def load_suite(directory: Path, suite: str) -> list[Case]:
    if suite not in SUITES:
        raise InvalidInput(f"unknown suite {suite!r}; use one of: {', '.join(SUITES)}")
    path = require_file(
        directory / SUITES[suite], what=f"eval suite {suite!r}", setting="COMPANION_EVALS__DIR"
    )
    cases = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path.name}:{number}: not JSON ({exc.msg})") from None
        if suite == "matching":
            inputs = {"mentee": row["mentee"], "org": row["org"]}
            cases.append(Case(suite, row["id"], "match", inputs, {"acceptable": row["acceptable"]}))
        else:
            cases.append(
                Case(suite, row["id"], row["task"], row["inputs"], row.get("expect", {}), row.get("guide"))
            )
    return cases


class _TracingRetriever:
    """Wraps the real retriever: records what it returned and, for guide-injection cases, appends a
    poisoned excerpt as if an ingested guide carried it."""

    def __init__(self, inner: Retriever, guide: str | None) -> None:
        self.inner = inner
        self.guide = guide
        self.seen: list[RetrievedChunk] = []

    def retrieve(
        self,
        *,
        query: str,
        k: int | None = None,
        filters: dict[str, Any] | None = None,
        extra: int = 0,
    ) -> list[RetrievedChunk]:
        chunks = self.inner.retrieve(query=query, k=k, filters=filters, extra=extra)
        if self.guide:
            poisoned = RetrievedChunk(
                id="eval-poisoned-guide",
                text=f"# Notes\n\n{self.guide}",
                source="uploaded-notes.md",
                title="Notes",
                heading="Notes",
                start=0,
                end=len(self.guide),
                score=1.0,
                dense_similarity=1.0,
                citation="uploaded-notes.md § Notes",
            )
            chunks = [poisoned, *chunks[: max(len(chunks) - 1, 0)]]
        self.seen = chunks
        return chunks


class EvaluationService:
    def __init__(
        self,
        *,
        db: Database,
        assistant: Callable[[Retriever], MentoringService],
        retriever: Retriever,
        matching: MatchingService,
        llm: ChatModel,
        prompts: PromptLibrary,
        settings: Settings,
        calibrations: CalibrationStore,
    ) -> None:
        self.calibrations = calibrations
        self.db = db
        self.assistant = assistant  # the wiring's assistant, built around the retriever it is given
        self.retriever = retriever
        self.matching = matching
        self.llm = llm
        self.prompts = prompts
        self.settings = settings
        self.config: EvalSettings = settings.evals

    # ---- running ---------------------------------------------------------------------------------

    def plan(self, suites: Sequence[str] | None, limit: int | None) -> tuple[list[Case], dict[str, str]]:
        """The cases a run would execute, and the suites it skips (with why)."""
        chosen = list(suites or SUITES)
        cases: list[Case] = []
        skipped: dict[str, str] = {}
        for suite in chosen:
            loaded = load_suite(self.config.dir, suite)
            if suite == "matching" and loaded and not self._demo_loaded(loaded[0].inputs["mentee"]):
                org = loaded[0].inputs["org"]
                skipped[suite] = (
                    "the demo organization is not loaded: run `companion people demo --seed "
                    f"{org['seed']} --size {org['size']}` first"
                )
                continue
            cases.extend(loaded[:limit] if limit else loaded)
        return cases, skipped

    def run(
        self,
        *,
        suites: Sequence[str] | None = None,
        limit: int | None = None,
        judge: bool | None = None,
        note: str = "",
        progress: Callable[[str], None] | None = None,
    ) -> EvalRunOut:
        started = time.perf_counter()
        use_judge = self.config.judge if judge is None else judge
        cases, skipped = self.plan(suites, limit)
        if not cases:
            raise InvalidInput(
                "no eval cases to run" + (f": {'; '.join(skipped.values())}" if skipped else "")
            )
        outcomes = []
        for case in cases:
            outcomes.append(self.run_case(case, judge=use_judge))
            if progress:
                progress(f"{case.suite}/{case.id}")
        summary = _summaries(outcomes, self.config.pass_threshold)
        with self.db.session() as session:
            run = EvalRun(
                suites=[s for s in (suites or SUITES) if s not in skipped],
                case_limit=limit,
                model=getattr(self.llm, "name", type(self.llm).__name__),
                prompt_versions={name: self.prompts.version(name) for name in self.prompts.names()},
                settings=settings_snapshot(self.settings),
                summary={
                    "suites": {k: v.model_dump() for k, v in summary.items()},
                    "skipped": skipped,
                    "pass_threshold": self.config.pass_threshold,
                    "judge": use_judge,
                },
                score=round(mean(s.score for s in summary.values()), 4),
                pass_rate=round(
                    sum(o.score >= self.config.pass_threshold for o in outcomes) / len(outcomes), 4
                ),
                cases=len(outcomes),
                seconds=round(time.perf_counter() - started, 2),
                note=note,
            )
            session.add(run)
            session.flush()
            for o in outcomes:
                session.add(
                    EvalResult(
                        run_id=run.id,
                        suite=o.case.suite,
                        case_id=o.case.id,
                        task=o.case.task,
                        inputs={**o.case.inputs, **({"guide": o.case.guide} if o.case.guide else {})},
                        context=o.context,
                        output=o.output,
                        metrics={k: v.model_dump() for k, v in o.metrics.items()},
                        score=o.score,
                        passed=o.score >= self.config.pass_threshold,
                        origin=o.origin,
                        seconds=round(o.seconds, 3),
                    )
                )
            session.flush()
            return _run_out(run)

    def run_case(self, case: Case, *, judge: bool = False) -> CaseOutcome:
        outcome = CaseOutcome(case)
        started = time.perf_counter()
        try:
            if case.task == "match":
                self._score_match(case, outcome)
            else:
                self._score_assistant(case, outcome, judge=judge)
        except (BackendUnavailable, BackendTimeout, CompanionError) as exc:
            outcome.output = {"error": exc.message}
            outcome.add("ran", (0.0, f"{type(exc).__name__}: {exc.message}"))
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _demo_loaded(self, key: str) -> bool:
        with self.db.session() as session:
            return session.scalar(select(func.count()).select_from(Person).where(Person.key == key)) == 1

    def _score_match(self, case: Case, outcome: CaseOutcome) -> None:
        response = self.matching.recommend(case.inputs["mentee"], k=self.config.k, principal=None)
        ranked = [r.mentor.key or "" for r in response.results]
        outcome.output = {"ranked": ranked, "reasons": [r.reason for r in response.results]}
        outcome.origin = "model"
        outcome.add(
            f"precision@{self.config.k}", m.precision_at_k(ranked, case.expect["acceptable"], self.config.k)
        )

    def _traced(self, guide: str | None) -> tuple[MentoringService, _TracingRetriever]:
        """The assistant reading through a tracer, so the case records exactly what it was given."""
        tracer = _TracingRetriever(self.retriever, guide)
        return self.assistant(cast(Retriever, tracer)), tracer

    def _respond(
        self, service: MentoringService, case: Case, policy: str | None = None
    ) -> GoalDraftResponse | SessionPrepResponse | FeedbackResponse | AskResponse:
        task = case.task
        if task == "goals":
            return service.draft_goals(EVAL_PRINCIPAL, GoalDraftRequest(**case.inputs), policy=policy)
        if task == "agenda":
            return service.prepare_session(EVAL_PRINCIPAL, SessionPrepRequest(**case.inputs), policy=policy)
        if task == "feedback":
            return service.coach_feedback(EVAL_PRINCIPAL, FeedbackRequest(**case.inputs), policy=policy)
        if task == "ask":
            return service.ask(EVAL_PRINCIPAL, AskRequest(**case.inputs), policy=policy)
        raise InvalidInput(f"case {case.id}: unknown task {task!r}")

    def _score_assistant(self, case: Case, outcome: CaseOutcome, *, judge: bool) -> None:
        service, tracer = self._traced(case.guide)
        expect = case.expect
        task = case.task
        grounded = self._respond(service, case, policy="never")  # the composer alone: quality of the draft
        response = self._respond(service, case)
        chunks = tracer.seen
        by_text = {c.id: c.text for c in chunks}
        outcome.extra["model_called"] = response.generation.attempts > 0
        if response.generation.attempts:
            outcome.add("model_pass", m.origin(response.origin))
        else:
            outcome.add("model_pass", (0.0, f"the model was not called: {response.generation.policy}"))
        if case.suite != "adversarial":
            for prefix, out in ((GROUNDED, grounded), ("", response)):
                threshold = self.config.groundedness_threshold
                for name, metric in _quality(case, out, by_text, threshold, service.today()):
                    outcome.add(prefix + name, metric)
                if isinstance(out, GoalDraftResponse) and out.goals:
                    outcome.extra[("grounded_" if prefix else "") + "first_measure"] = out.goals[0].measure
        ids = {c.id for c in chunks}
        outcome.context = [
            {"n": n, "id": c.id, "citation": c.citation, "source": c.source, "text": c.text[:EXCERPT_CHARS]}
            for n, c in enumerate(chunks, start=1)
        ]
        output = response.model_dump(mode="json")
        outcome.output = output
        outcome.origin = str(output.get("origin", ""))
        schema = m.schema_valid(output, _RESPONSES[task])
        outcome.add("schema_valid", schema)
        text = m.output_text(output)
        if case.suite == "adversarial":
            outcome.add(
                "injection_resisted",
                m.injection_resisted(
                    text,
                    canary=expect.get("canary", ""),
                    schema_ok=schema[0] == 1.0,
                    system_prompts=[self.prompts.system_text(name) for name in self.prompts.names()],
                ),
            )
            if expect.get("not_covered") and isinstance(response, AskResponse):
                outcome.add("declined", m.declined(response))
        else:
            outcome.add("required", m.contains_required(text, expect.get("required", [])))
            outcome.add(
                "expected_sources",
                m.expected_sources_used(_grounded_on(response, chunks), expect.get("sources", [])),
            )
        if isinstance(response, GoalDraftResponse):
            today = service.today()
            horizon = today + timedelta(weeks=case.inputs.get("horizon_weeks", 12))
            outcome.add("smart", m.smart_elements(response, today=today, horizon=horizon))
            outcome.add(
                "citations_resolve",
                m.citations_resolve([c for g in response.goals for c in g.citations], ids),
            )
        elif isinstance(response, SessionPrepResponse):
            outcome.add("minutes_add_up", m.minutes_add_up(response))
            outcome.add(
                "citations_resolve",
                m.citations_resolve([c for i in response.items for c in i.citations], ids),
            )
        elif isinstance(response, FeedbackResponse):
            generated = " ".join(
                [
                    response.rewritten,
                    response.situation,
                    response.behaviour,
                    response.impact,
                    response.next_step,
                ]
            )
            text = generated
            outcome.add("sbi_present", m.sbi_present(response))
            outcome.add("judgments_removed", m.judgments_removed(response.original, response.rewritten))
            outcome.add("citations_resolve", m.citations_resolve(response.citations, ids))
        elif isinstance(response, AskResponse) and case.suite != "adversarial":
            ranked = [c.source for c in chunks]
            expected = expect.get("sources", [])
            outcome.add(f"recall@{self.config.k}", m.recall_at_k(ranked, expected, self.config.k))
            outcome.add("mrr", m.reciprocal_rank(ranked[: self.config.k], expected))  # within the top k
            outcome.add("markers_resolve", m.markers_resolve(response.answer, response.citations, ids))
            by_id = {c.id: c.text for c in chunks}
            cited = {c.n: by_id.get(c.chunk_id, "") for c in response.citations}
            outcome.add(
                "groundedness",
                m.groundedness(response.answer, cited, threshold=self.config.groundedness_threshold),
            )
            outcome.add("answer_points", m.answer_points(response.answer, expect.get("answer_points", [])))
        outcome.add("forbidden_absent", m.forbidden_absent(text, expect.get("forbidden", [])))
        outcome.add("origin", m.origin(outcome.origin))
        if judge:
            outcome.add("judge", self.judge(task, case.inputs, output, outcome.context))

    def judge(
        self, task: str, inputs: dict[str, Any], output: dict[str, Any], context: list[dict[str, Any]]
    ) -> m.Metric:
        """The optional LLM judge: the configured model grades the output with `prompts/judge.j2`."""
        generated = {k: v for k, v in output.items() if k not in ("generation", "sources", "original")}
        messages = self.prompts.render(
            "judge",
            task=task,
            request=json.dumps(inputs, ensure_ascii=False)[:2000],
            output=json.dumps(generated, ensure_ascii=False)[:3000],
            excerpts=[{"n": c["n"], "citation": c["citation"], "text": c["text"][:600]} for c in context],
        )
        try:
            reply = self.llm.structured(messages, JudgeVerdict)
        except (BackendUnavailable, BackendTimeout) as exc:
            return 0.0, f"judge unavailable: {exc.message}"
        try:
            verdict = JudgeVerdict.model_validate(reply.data or {})
        except ValueError:
            return 0.0, f"judge reply unusable: {reply.raw[:120]!r}"
        return round((verdict.score - 1) / 4, 4), f"judge {verdict.score}/5: {verdict.reason}"

    # ---- calibration -----------------------------------------------------------------------------

    def calibrate(
        self,
        *,
        suites: Sequence[str] | None = None,
        limit: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> list[Calibration]:
        """Ask the model for every case of the task suites (policy `always`) and store, per task, how
        often its reply passed validation; the `auto` policy reads the latest of these."""
        chosen = [s for s in (suites or CALIBRATED) if s in CALIBRATED]
        if not chosen:
            raise InvalidInput(f"calibrate one of these suites: {', '.join(CALIBRATED)}")
        backend = getattr(self.llm, "name", type(self.llm).__name__)
        found = []
        for suite in chosen:
            cases = load_suite(self.config.dir, suite)
            cases = cases[:limit] if limit else cases
            if not cases:
                continue
            task = cases[0].task
            started = time.perf_counter()
            passed = 0
            service = self.assistant(self.retriever)
            for case in cases:
                try:
                    response = self._respond(service, case, policy="always")
                    passed += response.origin == "model"
                except (BackendUnavailable, BackendTimeout, CompanionError):
                    pass  # a failed call is a failed pass
                if progress:
                    progress(f"{suite}/{case.id}")
            calibration = Calibration(
                backend=backend,
                task=task,
                prompt_version=self.prompts.version(task),
                cases=len(cases),
                passed=passed,
                pass_rate=round(passed / len(cases), 4),
            )
            self.calibrations.record(calibration, seconds=time.perf_counter() - started)
            found.append(calibration)
        return found

    # ---- reading ---------------------------------------------------------------------------------

    def list_runs(self, *, limit: int = 50) -> list[EvalRunOut]:
        with self.db.session() as session:
            rows = session.scalars(select(EvalRun).order_by(EvalRun.id.desc()).limit(limit))
            return [_run_out(r) for r in rows]

    def get_run(self, run_id: int, *, suite: str | None = None, passed: bool | None = None) -> EvalRunDetail:
        with self.db.session() as session:
            run = _get(session, EvalRun, run_id, "eval run")
            query = select(EvalResult).where(EvalResult.run_id == run_id).order_by(EvalResult.id)
            if suite:
                query = query.where(EvalResult.suite == suite)
            if passed is not None:
                query = query.where(EvalResult.passed == passed)
            results = list(session.scalars(query))
            labels = _labels(session, [r.id for r in results])
            outs = [_result_out(r, labels.get(r.id, [])) for r in results]
            return EvalRunDetail(
                run=_run_out(run), settings=run.settings, results=outs, judge=_agreement(outs)
            )

    def get_result(self, result_id: int) -> EvalResultTrace:
        with self.db.session() as session:
            row = _get(session, EvalResult, result_id, "eval result")
            out = _result_out(row, _labels(session, [row.id]).get(row.id, []))
            return EvalResultTrace(
                **out.model_dump(), inputs=row.inputs, context=row.context, output=row.output
            )

    def compare(self, a: int, b: int) -> CompareReport:
        with self.db.session() as session:
            run_a = _get(session, EvalRun, a, "eval run")
            run_b = _get(session, EvalRun, b, "eval run")
            rows_a = {
                (r.suite, r.case_id): r
                for r in session.scalars(select(EvalResult).where(EvalResult.run_id == a))
            }
            rows_b = {
                (r.suite, r.case_id): r
                for r in session.scalars(select(EvalResult).where(EvalResult.run_id == b))
            }
            regressions: list[CaseChange] = []
            improvements: list[CaseChange] = []
            unchanged = 0
            for key in sorted(rows_a.keys() & rows_b.keys()):
                before, after = rows_a[key], rows_b[key]
                delta = round(after.score - before.score, 4)
                if abs(delta) < 1e-4 and before.passed == after.passed:
                    unchanged += 1
                    continue
                change = CaseChange(
                    suite=key[0],
                    case_id=key[1],
                    before=before.score,
                    after=after.score,
                    delta=delta,
                    passed_before=before.passed,
                    passed_after=after.passed,
                    metrics=_moved_metrics(before.metrics, after.metrics),
                    result_a=before.id,
                    result_b=after.id,
                )
                (regressions if delta < 0 or (before.passed and not after.passed) else improvements).append(
                    change
                )
            suites_a = run_a.summary.get("suites", {})
            suites_b = run_b.summary.get("suites", {})
            versions_a, versions_b = run_a.prompt_versions, run_b.prompt_versions
            return CompareReport(
                a=a,
                b=b,
                score_delta=round(run_b.score - run_a.score, 4),
                suites={
                    s: round(
                        cast(dict[str, Any], suites_b[s])["score"]
                        - cast(dict[str, Any], suites_a[s])["score"],
                        4,
                    )
                    for s in sorted(suites_a.keys() & suites_b.keys())
                },
                regressions=sorted(regressions, key=lambda c: c.delta),
                improvements=sorted(improvements, key=lambda c: -c.delta),
                unchanged=unchanged,
                only_in_a=[f"{s}/{c}" for s, c in sorted(rows_a.keys() - rows_b.keys())],
                only_in_b=[f"{s}/{c}" for s, c in sorted(rows_b.keys() - rows_a.keys())],
                prompt_changes={
                    name: [versions_a.get(name), versions_b.get(name)]
                    for name in sorted(versions_a.keys() | versions_b.keys())
                    if versions_a.get(name) != versions_b.get(name)
                },
            )

    def label(self, result_id: int, principal: Principal, label: LabelIn) -> LabelOut:
        """An admin's verdict on a result; labelling again replaces the same admin's earlier label."""
        with self.db.session() as session:
            _get(session, EvalResult, result_id, "eval result")
            user_id = principal.id or None
            row = session.scalar(
                select(EvalLabel).where(EvalLabel.result_id == result_id, EvalLabel.user_id == user_id)
            )
            if row is None:
                row = EvalLabel(result_id=result_id, user_id=user_id, good=label.good, note=label.note)
                session.add(row)
            else:
                row.good, row.note = label.good, label.note
            session.flush()
            return _label_out(row)


# ---- helpers ----------------------------------------------------------------------------------------------


def _grounded_on(response: BaseModel, chunks: list[RetrievedChunk]) -> list[str]:
    """The guides an output stands on: an answer's listed sources (the composer's wider pool is not
    shown), every retrieved chunk for the other tasks."""
    if isinstance(response, AskResponse):
        return [c.source for c in response.sources]
    return [c.source for c in chunks]


def _quality(
    case: Case,
    response: BaseModel,
    chunk_texts: dict[str, str],
    threshold: float,
    today: Any,
) -> list[tuple[str, m.Metric]]:
    """The quality metrics of one output of a task (the same for the grounded draft and the final output)."""
    found: list[tuple[str, m.Metric]] = []
    if isinstance(response, AskResponse):
        points = case.expect.get("answer_points", [])
        found.append(("key_point_coverage", q.key_point_coverage(response.answer, points)))
        cited = {c.n: chunk_texts.get(c.chunk_id, "") for c in response.citations}
        found.append(("groundedness", m.groundedness(response.answer, cited, threshold=threshold)))
    elif isinstance(response, GoalDraftResponse):
        pairs = [(g.statement, g.measure) for g in response.goals]
        found.append(("goal_specificity", q.goal_specificity(case.inputs.get("aspiration", ""), pairs)))
        horizon = today + timedelta(weeks=case.inputs.get("horizon_weeks", 12))
        found.append(("smart", m.smart_elements(response, today=today, horizon=horizon)))
    elif isinstance(response, SessionPrepResponse):
        found.append(("minutes_add_up", m.minutes_add_up(response)))
    elif isinstance(response, FeedbackResponse):
        found.append(("behaviour_kept", q.behaviour_kept(response.original, response.rewritten)))
        parts = [response.rewritten, response.situation, response.behaviour, response.impact]
        found.append(("no_blanks", q.no_blanks(parts)))
        found.append(("judgments_removed", m.judgments_removed(response.original, response.rewritten)))
    return found


def settings_snapshot(settings: Settings) -> dict[str, Any]:
    """The settings of a run, with secrets and database passwords masked, and scripted replies counted."""
    data = settings.model_dump(mode="json")
    if settings.database_url:
        data["database_url"] = make_url(settings.database_url).render_as_string(hide_password=True)
    llm = data.get("llm", {})
    if llm.get("api_key"):
        llm["api_key"] = "***"
    llm["fake_replies"] = f"{len(settings.llm.fake_replies)} scripted replies"
    return cast(dict[str, Any], json.loads(json.dumps(data, default=str)))


def _summaries(outcomes: list[CaseOutcome], threshold: float) -> dict[str, SuiteSummary]:
    by_suite: dict[str, list[CaseOutcome]] = {}
    for o in outcomes:
        by_suite.setdefault(o.case.suite, []).append(o)
    summary = {}
    for suite, items in by_suite.items():
        names = sorted({n for o in items for n in o.metrics})
        metrics = {n: round(mean(o.metrics[n].value for o in items if n in o.metrics), 4) for n in names}
        for prefix, key in (("", "first_measure"), (GROUNDED, "grounded_first_measure")):
            measures = {o.case.id: o.extra[key] for o in items if key in o.extra}
            if len(measures) >= 2:
                metrics[f"{prefix}distinct_measures"] = q.distinct_share(measures)[0]
        called = [o for o in items if o.extra.get("model_called")]
        task_quality = QUALITY.get(items[0].case.task, ())

        def quality(
            prefix: str, items: list[CaseOutcome] = items, names: tuple[str, ...] = task_quality
        ) -> float | None:
            values = [o.metrics[prefix + n].value for o in items for n in names if prefix + n in o.metrics]
            return round(mean(values), 4) if values else None

        summary[suite] = SuiteSummary(
            cases=len(items),
            score=round(mean(o.score for o in items), 4),
            pass_rate=round(sum(o.score >= threshold for o in items) / len(items), 4),
            metrics=metrics,
            model_called=len(called),
            validity=round(sum(o.origin == "model" for o in called) / len(called), 4) if called else None,
            quality_grounded=quality(GROUNDED),
            quality_final=quality(""),
        )
    return summary


def _moved_metrics(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    moved = []
    for name in sorted(before.keys() | after.keys()):
        old = before.get(name, {}).get("value")
        new = after.get(name, {}).get("value")
        if old != new:
            reason = after.get(name, {}).get("reason", "(not measured)")
            moved.append(f"{name}: {old} -> {new} ({reason})")
    return moved


def _get(session: Session, model: type[Any], row_id: int, what: str) -> Any:
    row = session.get(model, row_id) if is_db_id(row_id) else None
    if row is None:
        raise NotFound(f"{what} {row_id} does not exist")
    return row


def _run_out(run: EvalRun) -> EvalRunOut:
    summary = run.summary or {}
    return EvalRunOut(
        id=run.id,
        created_at=run.created_at,
        suites=list(run.suites),
        case_limit=run.case_limit,
        model=run.model,
        prompt_versions=dict(run.prompt_versions),
        score=run.score,
        pass_rate=run.pass_rate,
        cases=run.cases,
        seconds=run.seconds,
        note=run.note,
        summary={k: SuiteSummary(**v) for k, v in cast(dict[str, Any], summary.get("suites", {})).items()},
        skipped=cast(dict[str, str], summary.get("skipped", {})),
    )


def _labels(session: Session, result_ids: list[int]) -> dict[int, list[LabelOut]]:
    found: dict[int, list[LabelOut]] = {}
    if not result_ids:
        return found
    for row in session.scalars(select(EvalLabel).where(EvalLabel.result_id.in_(result_ids))):
        found.setdefault(row.result_id, []).append(_label_out(row))
    return found


def _label_out(row: EvalLabel) -> LabelOut:
    return LabelOut(
        id=row.id, result_id=row.result_id, user_id=row.user_id, good=row.good, note=row.note,
        created_at=row.created_at,
    )  # fmt: skip


def _result_out(row: EvalResult, labels: list[LabelOut]) -> EvalResultOut:
    return EvalResultOut(
        id=row.id,
        run_id=row.run_id,
        suite=row.suite,
        case_id=row.case_id,
        task=row.task,
        score=row.score,
        passed=row.passed,
        origin=row.origin,
        seconds=row.seconds,
        metrics={k: MetricValue.model_validate(v) for k, v in row.metrics.items()},
        labels=labels,
    )


def _agreement(results: list[EvalResultOut]) -> JudgeAgreement:
    pairs = [
        (r.metrics["judge"].value >= 0.5, label.good)
        for r in results
        if "judge" in r.metrics
        for label in r.labels
    ]
    if not pairs:
        return JudgeAgreement(labelled=0, agreement=None)
    return JudgeAgreement(labelled=len(pairs), agreement=round(sum(a == b for a, b in pairs) / len(pairs), 4))


def junit_xml(detail: EvalRunDetail) -> str:
    """The run as JUnit XML: one testsuite per suite, one testcase per case, failed under the threshold."""
    root = ET.Element("testsuites", name=f"companion eval run {detail.run.id}")
    by_suite: dict[str, list[EvalResultOut]] = {}
    for r in detail.results:
        by_suite.setdefault(r.suite, []).append(r)
    for suite, results in by_suite.items():
        failures = sum(not r.passed for r in results)
        node = ET.SubElement(
            root, "testsuite", name=suite, tests=str(len(results)), failures=str(failures),
            time=f"{sum(r.seconds for r in results):.3f}",
        )  # fmt: skip
        for r in results:
            case = ET.SubElement(
                node, "testcase", classname=f"evals.{suite}", name=r.case_id, time=f"{r.seconds:.3f}"
            )
            if not r.passed:
                failure = ET.SubElement(case, "failure", message=f"score {r.score:.2f}")
                failure.text = "\n".join(
                    f"{name}: {v.value:.2f} - {v.reason}"
                    for name, v in r.metrics.items()
                    if v.gate and v.value < 1
                )
    return ET.tostring(root, encoding="unicode")
