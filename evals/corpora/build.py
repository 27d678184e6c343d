"""Build a sample corpus of `evals/corpora/<name>/guides/` into a folder that `companion ingest` reads.

Markdown (`.md`), plain-text (`.txt`) and HTML guides are copied as they are. Guides that must be PDF or
Word files are kept in the repository as source text (`<stem>.pdf.src`, `<stem>.docx.src`), so no binary
is committed, and are written here as real documents: PDF with fpdf2, DOCX with python-docx.

The source markup, one block per paragraph (blocks are separated by a blank line):

    # Title               the document title (PDF metadata and first line; DOCX "Title" style)
    ## Section            a section heading (bold 14 pt in PDF; DOCX "Heading 1")
    ### Subsection        a subsection heading (bold 12 pt in PDF; DOCX "Heading 2")
    - item                one bullet per line
    1. step               one numbered step per line
    | a | b |             table rows (DOCX: a real table; PDF: one line per row, cells joined by " | ")
    anything else         a paragraph (lines are joined with spaces)

Usage: `python -m evals.corpora.build kestrelway /tmp/kestrelway` (then `companion ingest /tmp/kestrelway`).
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

CORPORA = Path(__file__).resolve().parent
COPIED = (".md", ".txt", ".html")
# The organization named as author in the PDF and Word metadata of each corpus.
AUTHORS = {"kestrelway": "Kestrelway Logistics", "hollinvale": "Hollin Vale Libraries and Archives"}
BUILT = {".pdf.src": ".pdf", ".docx.src": ".docx"}
# Fixed document and archive dates: building twice gives the same bytes, so a re-ingest writes nothing.
_FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Block:
    kind: str  # "title", "h2", "h3", "p", "bullets", "steps", "table"
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def parse_source(text: str) -> list[Block]:
    """Split the source markup into blocks (see the module docstring)."""
    blocks: list[Block] = []
    for raw in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in raw.strip().splitlines() if line.strip()]
        if not lines:
            continue
        first = lines[0]
        if first.startswith("### "):
            blocks.append(Block("h3", (first[4:].strip(),)))
        elif first.startswith("## "):
            blocks.append(Block("h2", (first[3:].strip(),)))
        elif first.startswith("# "):
            blocks.append(Block("title", (first[2:].strip(),)))
        elif first.startswith("- "):
            blocks.append(Block("bullets", tuple(line[2:].strip() for line in lines)))
        elif re.match(r"\d+\. ", first):
            blocks.append(Block("steps", tuple(re.sub(r"^\d+\.\s+", "", line) for line in lines)))
        elif first.startswith("|"):
            rows = [" | ".join(c.strip() for c in line.strip("|").split("|")) for line in lines]
            blocks.append(Block("table", tuple(rows)))
        else:
            blocks.append(Block("p", (" ".join(lines),)))
        if blocks[-1].kind in ("title", "h2", "h3") and len(lines) > 1:
            raise ValueError(f"a heading must be alone in its block: {first!r}")
    if not blocks or blocks[0].kind != "title":
        raise ValueError("a source must start with a '# Title' block")
    return blocks


def title_of(blocks: list[Block]) -> str:
    return blocks[0].text


def render_pdf(blocks: list[Block], author: str = "") -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(title_of(blocks))
    pdf.set_author(author)
    pdf.set_creation_date(_FIXED_DATE)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    for block in blocks:
        if block.kind == "title":
            pdf.set_font("Helvetica", "B", 18)
            pdf.multi_cell(0, 9, block.text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        elif block.kind in ("h2", "h3"):
            pdf.set_font("Helvetica", "B", 14 if block.kind == "h2" else 12)
            pdf.ln(2)
            pdf.multi_cell(0, 7, block.text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif block.kind in ("bullets", "steps"):
            pdf.set_font("Helvetica", "", 11)
            for n, line in enumerate(block.lines, start=1):
                mark = f"{n}." if block.kind == "steps" else "-"
                pdf.multi_cell(0, 6, f"{mark} {line}", align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif block.kind == "table":
            pdf.set_font("Helvetica", "", 10)
            for row in block.lines:
                pdf.multi_cell(0, 6, row, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        else:
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, block.text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    return bytes(pdf.output())


def render_docx(blocks: list[Block], author: str = "") -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title_of(blocks)
    document.core_properties.author = author
    document.core_properties.created = _FIXED_DATE
    document.core_properties.modified = _FIXED_DATE
    for block in blocks:
        if block.kind == "title":
            document.add_heading(block.text, level=0)
        elif block.kind == "h2":
            document.add_heading(block.text, level=1)
        elif block.kind == "h3":
            document.add_heading(block.text, level=2)
        elif block.kind == "bullets":
            for line in block.lines:
                document.add_paragraph(line, style="List Bullet")
        elif block.kind == "steps":
            for line in block.lines:
                document.add_paragraph(line, style="List Number")
        elif block.kind == "table":
            rows = [row.split(" | ") for row in block.lines]
            width = max(len(r) for r in rows)
            table = document.add_table(rows=len(rows), cols=width)
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        else:
            document.add_paragraph(block.text)
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip_dates(buffer.getvalue())


def _fixed_zip_dates(data: bytes) -> bytes:
    """The same archive with every entry dated _FIXED_DATE (python-docx stamps the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_FIXED_DATE.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = entry.external_attr
            target.writestr(info, source.read(entry.filename))
    return out.getvalue()


def corpus_names() -> list[str]:
    """The sample corpora: every folder here that holds a `guides/` folder, sorted."""
    return sorted(p.parent.name for p in CORPORA.glob("*/guides"))


def guides_dir(name: str) -> Path:
    folder = CORPORA / name / "guides"
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name) or not folder.is_dir():
        raise ValueError(f"unknown corpus {name!r}; known: {', '.join(corpus_names())}")
    return folder


def output_name(source: Path) -> str | None:
    """The file name a guide source becomes in the built corpus (None: not a guide)."""
    for ending, suffix in BUILT.items():
        if source.name.endswith(ending):
            return source.name[: -len(ending)] + suffix
    return source.name if source.suffix in COPIED else None


def build_corpus(name: str, out_dir: Path) -> list[Path]:
    """Write corpus `name` into `out_dir` (created if needed); return the files written, sorted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    author = AUTHORS.get(name, "")
    written: list[Path] = []
    for source in sorted(guides_dir(name).iterdir()):
        target_name = output_name(source)
        if target_name is None:
            continue
        target = out_dir / target_name
        if source.name.endswith(".pdf.src"):
            target.write_bytes(render_pdf(parse_source(source.read_text(encoding="utf-8")), author))
        elif source.name.endswith(".docx.src"):
            target.write_bytes(render_docx(parse_source(source.read_text(encoding="utf-8")), author))
        else:
            shutil.copyfile(source, target)
        written.append(target)
    return sorted(written)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build a sample eval corpus into a folder of guides.")
    parser.add_argument("name", help="corpus name, a folder of evals/corpora/")
    parser.add_argument("out_dir", type=Path, help="where to write the guides")
    args = parser.parse_args(argv)
    for path in build_corpus(args.name, args.out_dir):
        print(path)


if __name__ == "__main__":
    main()
