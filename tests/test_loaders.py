from __future__ import annotations

import pytest

from companion.knowledge.chunking import chunk_document
from companion.knowledge.loaders import UnreadableFile, check_content, load_bytes
from tests.support.documents import make_docx, make_pdf

MARKDOWN = """# Running a session

Intro paragraph.

## Agenda

Keep it short.

```python
# not a heading
```

### Time boxes

Ten minutes each.
"""


def test_markdown_headings_offsets_and_title() -> None:
    loaded = load_bytes(MARKDOWN.encode(), "session.md")
    assert loaded.title == "Running a session"
    assert [(h.level, h.text) for h in loaded.headings] == [
        (1, "Running a session"),
        (2, "Agenda"),
        (3, "Time boxes"),
    ]
    for heading in loaded.headings:
        assert loaded.text[heading.offset :].lstrip("#").strip().startswith(heading.text)


def test_text_title_from_first_line() -> None:
    loaded = load_bytes(b"Mentor checklist\n\nBring notes.\n", "check.txt")
    assert loaded.title == "Mentor checklist"
    assert "Bring notes." in loaded.text
    assert loaded.headings == []


def test_html_blocks_headings_and_no_scripts() -> None:
    html = b"""<html><head><title>Trust guide</title><script>alert('x')</script></head>
    <body><nav>menu</nav><h1>Trust</h1><p>Listen <b>actively</b>.</p>
    <h2>Confidentiality</h2><ul><li>Keep notes private</li><li><p>Ask first</p></li></ul></body></html>"""
    loaded = load_bytes(html, "trust.html")
    assert loaded.title == "Trust guide"
    assert [h.text for h in loaded.headings] == ["Trust", "Confidentiality"]
    assert "Listen actively ." in loaded.text or "Listen actively." in loaded.text
    assert "- Keep notes private" in loaded.text and "- Ask first" in loaded.text
    assert "alert" not in loaded.text and "menu" not in loaded.text
    for heading in loaded.headings:
        assert loaded.text[heading.offset :].startswith(heading.text)


def test_pdf_pages_become_sections() -> None:
    data = make_pdf([["Feedback basics", "Describe the situation first."], ["Second page about impact."]])
    loaded = load_bytes(data, "feedback.pdf")
    assert "Describe the situation first." in loaded.text
    assert "Second page about impact." in loaded.text
    assert [h.text for h in loaded.headings] == ["Page 1", "Page 2"]
    assert loaded.title == "Feedback basics"


def test_pdf_headings_are_the_lines_in_a_larger_font() -> None:
    data = make_pdf(
        [
            ["# Feedback Guide", "## Situation and behaviour", "Describe the situation first.",
             "Then name what the person did, not who they are."],
            ["## Impact", "Say what effect it had.", "## The next step", "Agree one thing to try."],
        ]
    )  # fmt: skip
    loaded = load_bytes(data, "feedback.pdf")
    assert [(h.level, h.text) for h in loaded.headings] == [
        (1, "Feedback Guide"),
        (2, "Situation and behaviour"),
        (2, "Impact"),
        (2, "The next step"),
    ]
    for heading in loaded.headings:
        assert loaded.text[heading.offset :].startswith(heading.text)
    assert "Describe the situation first." in loaded.text and loaded.title == "Feedback Guide"
    chunks = chunk_document(loaded, source="feedback.pdf", chunk_size=60, chunk_overlap=0)
    impact = next(c for c in chunks if "effect it had" in c.text)
    assert impact.heading_path == "Feedback Guide > Impact", "a PDF chunk carries its section heading"


def test_pdf_title_from_metadata() -> None:
    loaded = load_bytes(make_pdf([["body text"]], title="Program Handbook"), "x.pdf")
    assert loaded.title == "Program Handbook"


def test_docx_headings_paragraphs_and_tables() -> None:
    data = make_docx(
        [
            ("title", "Remote mentoring"),
            ("h1", "Time zones"),
            ("p", "Agree on overlap hours."),
            ("h2", "Tools"),
            ("p", "Use video."),
        ],
        table=[["Tool", "Use"], ["Chat", "async check-ins"]],
    )
    loaded = load_bytes(data, "remote.docx")
    assert loaded.title == "Remote mentoring"
    assert [(h.level, h.text) for h in loaded.headings] == [
        (1, "Remote mentoring"),
        (1, "Time zones"),
        (2, "Tools"),
    ]
    assert "Agree on overlap hours." in loaded.text
    assert "| Tool | Use |\n| --- | --- |\n| Chat | async check-ins |" in loaded.text, "a table block"


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "empty.md", "empty"),
        (b"   \n\n", "blank.txt", "empty"),
        (b"%PDF-1.4\nthis is not really a pdf", "broken.pdf", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "image.txt", "binary"),
        (b"PK\x03\x04 not a real zip", "broken.docx", "Word document"),
        (b"caf\xe9 au lait", "latin1.md", "UTF-8"),
        (b"hello", "notes.rtf", "unsupported file type"),
    ],
)
def test_bad_files_raise_with_reason(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        load_bytes(data, name)


def test_pdf_without_text_is_reported() -> None:
    with pytest.raises(UnreadableFile, match="no text"):
        load_bytes(make_pdf([[]]), "scan.pdf")


@pytest.mark.parametrize(
    ("data", "name"),
    [(b"hello world", "fake.pdf"), (b"%PDF-1.4 ...", "fake.docx"), (b"\x00\x01\x02", "fake.md")],
)
def test_content_check_catches_renamed_files(data: bytes, name: str) -> None:
    with pytest.raises(UnreadableFile):
        check_content(data, name)


def test_html_tables_keep_rows_and_columns_as_a_pipe_table() -> None:
    html = b"""<html><body><h1>Matching</h1><p>Who sits on the panel:</p>
    <table><thead><tr><th>Member</th><th>Role</th></tr></thead>
    <tbody><tr><td>Coordinator</td><td><p>Chairs the panel</p><p>and holds | the vote</p></td></tr>
    <tr><td></td><td>A spare seat</td></tr><tr><td> </td><td></td></tr></tbody></table>
    <p>After the table.</p>
    <table><tr><td>Outer <table><tr><td>inner</td></tr></table> cell</td></tr></table></body></html>"""
    loaded = load_bytes(html, "matching.html")
    assert loaded.text == (
        "Matching\n\nWho sits on the panel:\n\n"
        "| Member | Role |\n| --- | --- |\n| Coordinator | Chairs the panel and holds / the vote |\n"
        "|  | A spare seat |\n\n"
        "After the table.\n\n| Outer inner cell |\n\n"
    ), "a row keeps its cells in their columns; an empty row is dropped; a nested table is cell text"
    assert [(h.level, h.text) for h in loaded.headings] == [(1, "Matching")]


def test_docx_keeps_document_order_tabs_and_the_core_title() -> None:
    import io

    import docx
    from docx.shared import Inches

    document = docx.Document()
    document.core_properties.title = "Session guide"
    document.add_heading("Before", level=1)
    intro = document.add_paragraph("Agenda:")
    intro.paragraph_format.tab_stops.add_tab_stop(Inches(1))  # a tab stop is layout, not text
    intro.add_run().add_tab()
    intro.add_run("ten minutes")
    grid = document.add_table(rows=1, cols=2)
    grid.cell(0, 0).text, grid.cell(0, 1).text = "Check-in", "5 min"
    document.add_heading("After", level=1)
    document.add_paragraph("Write down one next step.")
    buffer = io.BytesIO()
    document.save(buffer)

    loaded = load_bytes(buffer.getvalue(), "guide.docx")
    assert loaded.title == "Session guide"
    assert loaded.text == (
        "Before\n\nAgenda:\tten minutes\n\n| Check-in | 5 min |\n\nAfter\n\nWrite down one next step.\n\n"
    )
    assert [(h.level, h.text, loaded.text[h.offset :].split("\n")[0]) for h in loaded.headings] == [
        (1, "Before", "Before"),
        (1, "After", "After"),
    ]


def test_plain_text_underlined_headings_become_sections() -> None:
    text = (
        "Night shift guide\n=================\n\nIntro line.\n\n"
        "Handover\n--------\nWrite the log.\n\n"
        "----------\n\nA dashed rule above is no heading.\n"
    )
    loaded = load_bytes(text.encode(), "night.txt")
    assert [(h.level, h.text) for h in loaded.headings] == [(1, "Night shift guide"), (2, "Handover")]
    assert loaded.title == "Night shift guide"
    assert text[loaded.headings[1].offset :].startswith("Handover\n")
    plain = load_bytes(b"Just a note\nwith two lines.\n", "note.txt")
    assert plain.headings == [] and plain.title == "Just a note"
