"""Read guides into plain text plus heading markers, one loader per file type.

Every loader returns a `LoadedText`: the text that chunk offsets refer to, the document title, and the
headings found in it (character offset, level, heading text). A file that cannot be read raises
`UnreadableFile` with a reason a person can act on.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup, Tag

from companion.errors import InvalidInput

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")


class UnreadableFile(InvalidInput):
    """The file is corrupt, binary, empty or of an unsupported type."""

    code = "unreadable_file"


@dataclass(frozen=True)
class Heading:
    offset: int
    level: int
    text: str


@dataclass
class LoadedText:
    title: str
    text: str
    headings: list[Heading] = field(default_factory=list)


def load_bytes(data: bytes, filename: str) -> LoadedText:
    """Load a document from its bytes; `filename` decides the loader and the fallback title."""
    suffix = Path(filename).suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        supported = ", ".join(SUPPORTED_SUFFIXES)
        raise UnreadableFile(f"unsupported file type {suffix or '(none)'!r}; supported: {supported}")
    if not data.strip():
        raise UnreadableFile("file is empty")
    loaded = loader(data, Path(filename).stem)
    if not loaded.text.strip():
        raise UnreadableFile("no text could be extracted (a scanned PDF or an empty document?)")
    return loaded


def check_content(data: bytes, filename: str) -> None:
    """Check that the bytes really are of the type the name claims (used before accepting an upload)."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".pdf" and not data.lstrip()[:5] == b"%PDF-":
        raise UnreadableFile("file is named .pdf but does not start with a PDF header")
    if suffix == ".docx" and not data[:4] == b"PK\x03\x04":
        raise UnreadableFile("file is named .docx but is not a ZIP-based Word document")
    if suffix in (".md", ".markdown", ".txt", ".html", ".htm"):
        _decode_text(data)


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableFile("binary content in a text file (NUL bytes found)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not valid UTF-8 text (byte {exc.start}); save the file as UTF-8") from None


_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def load_markdown(data: bytes, stem: str) -> LoadedText:
    text = _decode_text(data)
    headings: list[Heading] = []
    offset = 0
    in_fence = False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _MD_HEADING.match(line.rstrip("\r\n"))):
            headings.append(Heading(offset, len(m.group(1)), m.group(2).strip()))
        offset += len(line)
    title = next((h.text for h in headings if h.level == 1), None) or _title_from_stem(stem)
    return LoadedText(title=title, text=text, headings=headings)


def load_text(data: bytes, stem: str) -> LoadedText:
    text = _decode_text(data)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = first if 0 < len(first) <= 80 else _title_from_stem(stem)
    return LoadedText(title=title, text=text)


_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th", "dt", "dd")


def load_html(data: bytes, stem: str) -> LoadedText:
    soup = BeautifulSoup(_decode_text(data), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav", "svg"]):
        tag.decompose()
    parts: list[str] = []
    headings: list[Heading] = []
    offset = 0
    for element in soup.find_all(_BLOCKS):
        if not isinstance(element, Tag) or element.find_parent(_BLOCKS) is not None:
            continue
        block = " ".join(element.get_text(" ", strip=True).split())
        if not block:
            continue
        if element.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            headings.append(Heading(offset, int(element.name[1]), block))
        elif element.name == "li":
            block = "- " + block
        parts.append(block + "\n\n")
        offset += len(block) + 2
    text = "".join(parts)
    if not text.strip():
        text = "\n".join(line.strip() for line in soup.get_text("\n").splitlines() if line.strip())
    title_tag = soup.find("title")
    title = (
        (title_tag.get_text(strip=True) if title_tag else "")
        or next((h.text for h in headings if h.level == 1), "")
        or _title_from_stem(stem)
    )
    return LoadedText(title=title, text=text, headings=headings)


def load_pdf(data: bytes, stem: str) -> LoadedText:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise UnreadableFile("PDF is encrypted; export an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except UnreadableFile:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise UnreadableFile(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})"[:300]) from None
    parts: list[str] = []
    headings: list[Heading] = []
    offset = 0
    for number, page in enumerate(pages, start=1):
        body = page.strip()
        if not body:
            continue
        headings.append(Heading(offset, 2, f"Page {number}"))
        parts.append(body + "\n\n")
        offset += len(body) + 2
    text = "".join(parts)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = str(meta_title).strip() or (first if 0 < len(first) <= 80 else _title_from_stem(stem))
    return LoadedText(title=title, text=text, headings=headings)


def load_docx(data: bytes, stem: str) -> LoadedText:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableFile(f"corrupt or unreadable Word document ({type(exc).__name__})") from None
    parts: list[str] = []
    headings: list[Heading] = []
    offset = 0
    title = (document.core_properties.title or "").strip()
    for paragraph in document.paragraphs:
        block = paragraph.text.strip()
        if not block:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = _docx_heading_level(style)
        if level is not None:
            headings.append(Heading(offset, level, block))
            if level == 1 and not title:
                title = block
        parts.append(block + "\n\n")
        offset += len(block) + 2
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                line = " | ".join(cells)
                parts.append(line + "\n")
                offset += len(line) + 1
    return LoadedText(title=title or _title_from_stem(stem), text="".join(parts), headings=headings)


def _docx_heading_level(style: str) -> int | None:
    if style == "Title":
        return 1
    m = re.match(r"Heading (\d)", style)
    return int(m.group(1)) if m else None


def _title_from_stem(stem: str) -> str:
    return re.sub(r"[-_]+", " ", stem).strip().capitalize() or "Untitled"


_LOADERS: dict[str, Callable[[bytes, str], LoadedText]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}
