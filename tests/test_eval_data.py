"""The eval data is sound: every suite parses and validates, ids are unique, expected guides exist, expected
answer points are really in those guides, and every sample corpus of `evals/corpora/` builds into real files
that the project's loaders read with their titles and headings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from pydantic import BaseModel

from companion.assistant.models import AskRequest, FeedbackRequest, GoalDraftRequest, SessionPrepRequest
from companion.container import Services
from companion.evaluation.runner import SUITES, load_suite
from companion.knowledge.loaders import LoadedText, check_content, load_bytes
from evals.corpora.build import build_corpus, guides_dir, output_name, parse_source
from tests.support.app import KNOWLEDGE, REPO

EVALS = REPO / "evals"
CORPORA = sorted(p.parent.name for p in (EVALS / "corpora").glob("*/guides"))
# what the ingest test asks each corpus once it is indexed (any query: it checks results come from the corpus)
SMOKE_QUERIES = {"kestrelway": "mileage to another depot", "hollinvale": "meetings on the mobile library"}
RETRIEVAL_FIELDS = {"id", "question", "sources", "answer_points"}
REQUESTS: dict[str, type[BaseModel]] = {
    "goals": GoalDraftRequest,
    "agenda": SessionPrepRequest,
    "feedback": FeedbackRequest,
    "ask": AskRequest,
}


def _rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"{path.name}:{number}: blank line"
        row = json.loads(line)
        assert isinstance(row, dict), f"{path.name}:{number}: not an object"
        rows.append(row)
    return rows


def _flat(text: str) -> str:
    return " ".join(text.split()).lower()


def _handbook() -> dict[str, str]:
    return {p.name: _flat(p.read_text(encoding="utf-8")) for p in KNOWLEDGE.iterdir() if p.is_file()}


@pytest.fixture(scope="module", params=CORPORA)
def corpus(request: pytest.FixtureRequest) -> str:
    """The name of a sample corpus, a folder of `evals/corpora/`: the corpus tests run once for each."""
    return str(request.param)


@pytest.fixture(scope="module")
def built(corpus: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, LoadedText]:
    out = tmp_path_factory.mktemp(corpus)
    files = build_corpus(corpus, out)
    return {p.name: load_bytes(p.read_bytes(), p.name) for p in files}


def _check_retrieval(rows: list[dict[str, Any]], texts: dict[str, str]) -> None:
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids), "duplicate ids"
    questions = [_flat(r["question"]) for r in rows]
    assert len(set(questions)) == len(questions), "the same question twice"
    for row in rows:
        assert set(row) == RETRIEVAL_FIELDS, f"{row['id']}: fields {sorted(row)}"
        assert len(row["question"].strip()) >= 3, row["id"]
        assert row["sources"] and row["answer_points"], f"{row['id']}: needs sources and answer points"
        for source in row["sources"]:
            assert source in texts, f"{row['id']}: {source} is not a guide of the corpus"
        for point in row["answer_points"]:
            assert any(_flat(point) in texts[s] for s in row["sources"]), (
                f"{row['id']}: answer point {point!r} is in none of {row['sources']}"
            )


# ---- the handbook's suites ----------------------------------------------------------------------------


def test_every_suite_parses_validates_and_has_unique_ids() -> None:
    for suite in SUITES:
        rows = _rows(EVALS / SUITES[suite])
        ids = [r["id"] for r in rows]
        assert len(set(ids)) == len(ids), f"{suite}: duplicate ids"
        if suite == "matching":
            continue
        for case in load_suite(EVALS, suite):
            REQUESTS[case.task].model_validate(case.inputs)  # the runner builds the same request
            for source in case.expect.get("sources", []):
                assert (KNOWLEDGE / source).is_file(), f"{suite}/{case.id}: no guide {source}"
            for key in ("required", "forbidden"):
                assert all(isinstance(p, str) and p for p in case.expect.get(key, [])), f"{case.id}: {key}"


def test_retrieval_questions_point_at_real_guides_and_real_text() -> None:
    rows = _rows(EVALS / "retrieval.jsonl")
    assert len(rows) >= 120
    handbook = _handbook()
    _check_retrieval(rows, handbook)
    assert {s for r in rows for s in r["sources"]} == set(handbook), "every guide is asked about"


def test_ask_cases_copy_their_retrieval_question_or_expect_not_covered() -> None:
    retrieval = {r["id"]: r for r in _rows(EVALS / "retrieval.jsonl")}
    handbook = _handbook()
    cases = load_suite(EVALS, "ask")
    declines = [c for c in cases if c.expect.get("not_covered")]
    assert len(cases) >= 60 and len(declines) >= 5
    for case in cases:
        if case.expect.get("not_covered"):
            # nothing in the handbook answers it: no guide or point expected, the answer must say so
            assert case.expect["sources"] == [] and case.expect["answer_points"] == [], case.id
            assert "do not cover" in case.expect["required"], case.id
            continue
        twin = retrieval[case.id.replace("ask-", "ret-")]
        assert case.inputs == {"question": twin["question"]}, case.id
        assert case.expect["sources"] == twin["sources"], case.id
        assert case.expect["answer_points"] == twin["answer_points"], case.id
        for point in case.expect["answer_points"]:
            assert any(_flat(point) in handbook[s] for s in case.expect["sources"]), (case.id, point)


def test_goal_cases_require_what_the_mentee_talked_about() -> None:
    cases = load_suite(EVALS, "goals")
    assert len(cases) >= 39
    assert len({c.inputs["horizon_weeks"] for c in cases}) >= 5, "varied horizons"
    for case in cases:
        said = (case.inputs["aspiration"] + " " + case.inputs.get("context", "")).lower()
        for phrase in case.expect["required"]:
            assert phrase.lower() in said, f"{case.id}: {phrase!r} is not something the mentee said"


def test_feedback_cases_forbid_only_phrases_of_the_draft() -> None:
    cases = load_suite(EVALS, "feedback")
    assert len(cases) >= 44
    kinds = {json.loads(line)["kind"] for line in (EVALS / "feedback.jsonl").read_text().splitlines()}
    assert {"harsh", "vague", "biased", "mixed", "fine", "sarcastic", "praise-only"} <= kinds
    for case in cases:
        draft = case.inputs["draft"].lower()
        for phrase in case.expect["forbidden"]:
            assert phrase.lower() in draft, f"{case.id}: forbids {phrase!r}, which the draft does not say"


# ---- the sample corpora (evals/corpora/<name>), each one in turn ----------------------------------------


def test_there_are_sample_corpora() -> None:
    assert {"kestrelway", "hollinvale"} <= set(CORPORA)


def test_corpus_builds_every_format(corpus: str, built: dict[str, LoadedText], tmp_path: Path) -> None:
    assert 8 <= len(built) <= 12
    suffixes = {Path(name).suffix for name in built}
    assert {".txt", ".html", ".pdf", ".docx"} <= suffixes <= {".md", ".txt", ".html", ".pdf", ".docx"}
    sources = [p for p in guides_dir(corpus).iterdir() if output_name(p)]
    assert sorted(str(output_name(p)) for p in sources) == sorted(built)
    for path in build_corpus(corpus, tmp_path / "again"):
        check_content(path.read_bytes(), path.name)  # a real PDF / Word file, not a renamed text file
    for source in sources:
        if source.name.endswith(".src"):
            assert not source.read_bytes().startswith((b"%PDF", b"PK")), "sources are text, not binaries"


def test_pdf_and_docx_guides_keep_their_title_headings_and_text(
    corpus: str, built: dict[str, LoadedText]
) -> None:
    for source in guides_dir(corpus).glob("*.src"):
        blocks = parse_source(source.read_text(encoding="utf-8"))
        name = output_name(source)
        assert name is not None
        loaded = built[name]
        assert loaded.title == blocks[0].text
        text = _flat(loaded.text)
        for block in blocks:
            for line in block.lines:
                assert _flat(line) in text, f"{name}: lost {line[:60]!r}"
        wanted = [b.text for b in blocks if b.kind in ("title", "h2", "h3")]
        assert [h.text for h in loaded.headings] == wanted, "PDF headings are found by their font size"
        for heading in loaded.headings:  # a PDF heading may wrap over two lines
            assert _flat(loaded.text[heading.offset :]).startswith(_flat(heading.text))


def test_html_guides_keep_their_title_and_headings(corpus: str, built: dict[str, LoadedText]) -> None:
    for path in guides_dir(corpus).glob("*.html"):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        loaded = built[path.name]
        title = soup.find("title")
        assert title is not None and loaded.title == title.get_text(strip=True)
        tags = soup.find_all(re.compile(r"^h[1-6]$"))
        wanted = [" ".join(h.get_text(" ", strip=True).split()) for h in tags]
        assert len(wanted) >= 4 and [h.text for h in loaded.headings] == wanted
        assert "intranet menu" not in loaded.text.lower() and "analytics" not in loaded.text.lower()


def test_markdown_guides_keep_their_title_and_headings(corpus: str, built: dict[str, LoadedText]) -> None:
    for path in guides_dir(corpus).glob("*.md"):
        lines = path.read_text(encoding="utf-8").splitlines()
        wanted = [line.lstrip("#").strip() for line in lines if re.match(r"#{1,6} ", line)]
        assert lines[0].startswith("# ") and built[path.name].title == wanted[0], path.name
        assert len(wanted) >= 3 and [h.text for h in built[path.name].headings] == wanted, path.name


def _underlined(text: str) -> list[str]:
    lines = text.splitlines()
    return [
        lines[i].strip()
        for i in range(len(lines) - 1)
        if lines[i].strip() and re.fullmatch(r"(=+|-+)", lines[i + 1].strip())
    ]


def test_plain_text_guides_have_underlined_headings(corpus: str, built: dict[str, LoadedText]) -> None:
    for path in guides_dir(corpus).glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        headings = _underlined(text)
        assert len(headings) >= 5, path.name
        for line, under in zip(text.splitlines(), text.splitlines()[1:], strict=False):
            if re.fullmatch(r"(=+|-+)", under.strip()) and line.strip():
                assert len(under.strip()) == len(line.strip()), f"{path.name}: underline of {line!r}"
        assert built[path.name].title == headings[0]


def test_plain_text_loader_finds_underlined_headings(corpus: str, built: dict[str, LoadedText]) -> None:
    for path in guides_dir(corpus).glob("*.txt"):
        assert [h.text for h in built[path.name].headings] == _underlined(path.read_text(encoding="utf-8"))


def test_corpus_questions_point_at_real_guides_and_real_text(
    corpus: str, built: dict[str, LoadedText]
) -> None:
    rows = _rows(EVALS / "corpora" / corpus / "retrieval.jsonl")
    assert len(rows) >= 40
    texts = {name: _flat(loaded.text) for name, loaded in built.items()}
    _check_retrieval(rows, texts)
    assert {s for r in rows for s in r["sources"]} == set(texts), "every guide is asked about"


def test_corpus_ingests(corpus: str, services: Services, tmp_path: Path) -> None:
    files = build_corpus(corpus, tmp_path / "corpus")
    report = services.knowledge.ingest_paths([tmp_path / "corpus"])
    assert report.failed == []
    assert sorted(report.added) == sorted(p.name for p in files)
    found = services.retriever.retrieve(query=SMOKE_QUERIES.get(corpus, "mentoring"), k=5)
    assert found and {c.source for c in found} <= {p.name for p in files}
    build_corpus(corpus, tmp_path / "corpus")  # rebuilt in place: same bytes, nothing to re-index
    again = services.knowledge.ingest_paths([tmp_path / "corpus"])
    assert again.chunks_written == 0 and again.added == again.updated == []


def test_building_twice_gives_the_same_bytes(corpus: str, tmp_path: Path) -> None:
    first = build_corpus(corpus, tmp_path / "one")
    second = build_corpus(corpus, tmp_path / "two")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two builds"


def test_unknown_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(f"unknown corpus 'nope'; known: {', '.join(CORPORA)}")):
        build_corpus("nope", tmp_path)
    with pytest.raises(ValueError, match="must start with a '# Title'"):
        parse_source("## Section only\n\ntext")
