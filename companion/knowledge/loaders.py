"""Read guides into plain text plus heading markers, one loader per file type.

Every loader returns a `LoadedText`: the text that chunk offsets refer to, the document title, and the
headings found in it (character offset, level, heading text). A file that cannot be read raises
`UnreadableFile` with a reason a person can act on; one beyond an `IngestLimits` bound raises
`LimitExceeded`. Parsers stream with a character budget, so a hostile file costs bounded time and memory.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from companion.errors import CompanionError, InvalidInput, LimitExceeded
from companion.settings import IngestLimits

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


def load_bytes(data: bytes, filename: str, limits: IngestLimits | None = None) -> LoadedText:
    """Load a document from its bytes; `filename` decides the loader and the fallback title.

    Whatever the parser meets, the result is a `LoadedText`, an `UnreadableFile` (422) with the reason, or
    a `LimitExceeded` (413) naming the limit: a hostile file never escapes as another exception.
    """
    limits = limits or IngestLimits()
    suffix = Path(filename).suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        supported = ", ".join(SUPPORTED_SUFFIXES)
        raise UnreadableFile(f"unsupported file type {suffix or '(none)'!r}; supported: {supported}")
    if not data.strip():
        raise UnreadableFile("file is empty")
    try:
        loaded = loader(data, Path(filename).stem, limits)
    except CompanionError:
        raise
    except MemoryError:
        raise UnreadableFile("the file needs more memory to read than the server has") from None
    except RecursionError:
        raise UnreadableFile("the file is nested too deeply to read") from None
    except Exception as exc:  # any other parser failure is the file's fault, not the server's
        reason = f"corrupt or unreadable {suffix} file ({type(exc).__name__}: {exc})"
        raise UnreadableFile(reason[:300]) from None
    if not loaded.text.strip():
        raise UnreadableFile("no text could be extracted (a scanned PDF or an empty document?)")
    return loaded


def check_content(data: bytes, filename: str, limits: IngestLimits | None = None) -> None:
    """Check that the bytes really are of the type the name claims (used before accepting an upload, also
    before one is queued as a job): a Word document's zip directory is held to the size limits here."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".pdf" and not data.lstrip()[:5] == b"%PDF-":
        raise UnreadableFile("file is named .pdf but does not start with a PDF header")
    if suffix == ".docx" and not data[:4] == b"PK\x03\x04":
        raise UnreadableFile("file is named .docx but is not a ZIP-based Word document")
    if suffix == ".docx" and limits is not None:
        _open_docx(data, limits).close()
    if suffix in (".md", ".markdown", ".txt", ".html", ".htm"):
        _decode_text(data)


def _check_headings(headings: list[Heading], limits: IngestLimits) -> None:
    """Every heading starts a section of at least one chunk: more headings than chunks allowed is refused
    while loading, before chunking them all."""
    if len(headings) > limits.max_chunks:
        raise LimitExceeded(
            "the document has more headings (sections) than one guide may have chunks",
            limit=limits.max_chunks,
            setting="max_chunks",
        )


def _check_chars(count: int, limits: IngestLimits) -> None:
    if count > limits.max_chars:
        raise LimitExceeded(
            "the document holds more text than one guide may", limit=limits.max_chars, setting="max_chars"
        )


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableFile("binary content in a text file (NUL bytes found)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not valid UTF-8 text (byte {exc.start}); save the file as UTF-8") from None


_FENCE = re.compile(r"^\s*(```|~~~)")


def _md_heading(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line ("## Text ##"), parsed without a regular expression: the
    pattern that did this took cubic time on a long line of spaces."""
    if not line.startswith("#"):
        return None
    rest = line.lstrip("#")
    level = len(line) - len(rest)
    if level > 6 or not rest or rest[0] not in " \t":
        return None
    text = rest.strip(" \t").rstrip("#").rstrip(" \t").strip()
    return (level, text) if text else None


def load_markdown(data: bytes, stem: str, limits: IngestLimits) -> LoadedText:
    text = _decode_text(data)
    _check_chars(len(text), limits)
    headings: list[Heading] = []
    offset = 0
    in_fence = False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (found := _md_heading(line.rstrip("\r\n"))):
            headings.append(Heading(offset, found[0], found[1]))
            _check_headings(headings, limits)
        offset += len(line)
    title = next((h.text for h in headings if h.level == 1), None) or _title_from_stem(stem)
    return LoadedText(title=title, text=text, headings=headings)


def _underline_level(line: str) -> int | None:
    """1 for a line of '=', 2 for a line of '-' (at least three): the underline of a setext heading."""
    mark = line.strip()
    if len(mark) < 3 or mark[0] not in "=-" or mark.strip(mark[0]):
        return None
    return 1 if mark[0] == "=" else 2


def load_text(data: bytes, stem: str, limits: IngestLimits) -> LoadedText:
    """Plain text; a line underlined with '=' or '-' (`Title` / `=====`) is a heading, as in Markdown's
    setext style, so plain-text guides are cut at their sections too."""
    text = _decode_text(data)
    _check_chars(len(text), limits)
    headings: list[Heading] = []
    lines = text.splitlines(keepends=True)
    offset = 0
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        label = line.strip()
        level = _underline_level(following) if label and len(label) <= 200 else None
        if level is not None and _underline_level(line) is None:
            headings.append(Heading(offset, level, label))
            _check_headings(headings, limits)
        offset += len(line)
    first = next((line.strip() for line in lines if line.strip()), "")
    fallback = first if 0 < len(first) <= 80 else _title_from_stem(stem)
    title = next((h.text for h in headings if h.level == 1), None) or fallback
    return LoadedText(title=title, text=text, headings=headings)


_BLOCKS = frozenset(
    ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th", "dt", "dd")
)
_SKIPPED = frozenset(("script", "style", "noscript", "template", "nav", "svg"))
_FEED = 1 << 16


def _pipe_table(rows: list[list[str]]) -> str:
    """Table rows as a Markdown pipe table, the first row as its header (a rule line after it), so a row
    keeps its cells together and each cell its column; "|" inside a cell becomes "/"."""
    cleaned = [[" ".join(cell.split()).replace("|", "/") for cell in row] for row in rows]
    width = max(len(row) for row in cleaned)
    lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in cleaned]
    if len(lines) > 1:
        lines.insert(1, "| " + " | ".join(["---"] * width) + " |")
    return "\n".join(lines)


class _HtmlText:
    """An lxml parser target: collects the outermost text blocks as the parser streams, without building a
    tree, counting elements and characters against the limits."""

    def __init__(self, limits: IngestLimits) -> None:
        self.limits = limits
        self.elements = 0
        self.chars = 0
        self.depth = 0
        self.skipping = 0  # open skipped elements (scripts, navigation)
        self.in_title = 0
        self.block: tuple[str, int] | None = None  # (tag, depth) of the open outermost block
        self.pieces: list[str] = []
        self.blocks: list[tuple[str, str]] = []
        self.loose: list[str] = []
        self.title: list[str] = []
        self.stack: list[str] = []
        self.table: tuple[int, list[list[str]]] | None = None  # (depth, rows) of the open outermost table
        self.row: tuple[int, list[str]] | None = None  # (depth, cells) of its open row

    def start(self, tag: object, attrib: object) -> None:
        self.elements += 1
        if self.elements > self.limits.max_html_elements:
            raise LimitExceeded(
                "the HTML file has more elements than one guide may",
                limit=self.limits.max_html_elements,
                setting="max_html_elements",
            )
        name = tag if isinstance(tag, str) else ""
        self.stack.append(name)
        self.depth += 1
        if name in _SKIPPED:
            self.skipping += 1
        elif name == "title":
            self.in_title += 1
        elif self.block is None and not self.skipping:
            if name == "table" and self.table is None:
                self.table = (self.depth, [])
            elif name == "tr" and self.table is not None:
                self.row = (self.depth, [])
            elif name in _BLOCKS:
                self.block, self.pieces = (name, self.depth), []
        self._boundary()

    def end(self, tag: object) -> None:
        name = self.stack.pop() if self.stack else ""
        if name in _SKIPPED:
            self.skipping -= 1
        elif name == "title":
            self.in_title -= 1
        if self.block is not None and self.block[1] == self.depth:
            text = " ".join("".join(self.pieces).split())
            if self.row is not None and self.block[0] in ("td", "th"):
                self.row[1].append(text)  # a cell joins its row, empty or not: columns stay aligned
            elif text:
                self.blocks.append((self.block[0], text))
            self.block, self.pieces = None, []
        elif self.row is not None and self.row[0] == self.depth:
            if any(self.row[1]) and self.table is not None:
                self.table[1].append(self.row[1])
            self.row = None
        elif self.table is not None and self.table[0] == self.depth:
            if self.table[1]:
                self.blocks.append(("table", _pipe_table(self.table[1])))
            self.table = None
        self.depth -= 1
        self._boundary()

    def data(self, text: str) -> None:
        if self.skipping:
            return
        self.chars += len(text)
        _check_chars(self.chars, self.limits)
        if self.in_title:
            self.title.append(text)
        elif self.block is not None:
            self.pieces.append(text)
        else:
            self.loose.append(text)

    def _boundary(self) -> None:
        # an element boundary separates words, as BeautifulSoup's get_text(" ") did
        if self.block is not None:
            self.pieces.append(" ")
        else:
            self.loose.append("\n")

    def comment(self, text: str) -> None:
        return None

    def close(self) -> None:
        return None


def load_html(data: bytes, stem: str, limits: IngestLimits) -> LoadedText:
    from lxml import etree

    source = _decode_text(data)
    collector = _HtmlText(limits)
    parser = etree.HTMLParser(target=collector, no_network=True, recover=True)
    try:
        for i in range(0, len(source), _FEED):
            parser.feed(source[i : i + _FEED])
        parser.close()
    except etree.LxmlError as exc:
        raise UnreadableFile(f"unreadable HTML ({exc})"[:300]) from None
    parts: list[str] = []
    headings: list[Heading] = []
    offset = 0
    for tag, block in collector.blocks:
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            headings.append(Heading(offset, int(tag[1]), block))
            _check_headings(headings, limits)
        elif tag == "li":
            block = "- " + block
        parts.append(block + "\n\n")
        offset += len(block) + 2
    text = "".join(parts)
    if not text.strip():
        text = "\n".join(line.strip() for line in "".join(collector.loose).splitlines() if line.strip())
    title = (
        " ".join("".join(collector.title).split())
        or next((h.text for h in headings if h.level == 1), "")
        or _title_from_stem(stem)
    )
    return LoadedText(title=title, text=text, headings=headings)


def load_pdf(data: bytes, stem: str, limits: IngestLimits) -> LoadedText:
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PyPdfError

    bound = limits.max_decompressed_bytes
    pages: list[str] = []
    sized: list[list[tuple[float, str]]] = []  # per page: (font size, text) of each line
    try:
        with apply_configuration(
            zlib_maximum_output_length=bound,
            lzw_maximum_output_length=bound,
            run_length_maximum_output_length=bound,
            brotli_maximum_output_length=bound,
            array_based_stream_maximum_output_length=bound,
            maximum_declared_stream_length=bound,
            stream_decoding_work_maximum_length=4 * bound,
        ):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise UnreadableFile("PDF is encrypted; export an unprotected copy")
            count = _pdf_declared_pages(reader)  # cheap: flattening thousands of pages takes seconds
            if count <= limits.max_pdf_pages:
                count = len(reader.pages)
            if count > limits.max_pdf_pages:
                raise LimitExceeded(
                    f"the PDF has {count:,} pages", limit=limits.max_pdf_pages, setting="max_pdf_pages"
                )
            chars = decoded = 0
            for page in reader.pages:
                # decode the page's content streams first: extract_text() swallows pypdf's limit errors
                decoded += _pdf_content_bytes(page)
                if decoded > bound:
                    raise LimitReachedError("page contents")
                lines = _SizedLines()
                page_text = page.extract_text(visitor_text=lines.visit) or ""
                chars += len(page_text)
                _check_chars(chars, limits)
                pages.append(page_text)
                sized.append(lines.done())
            meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except LimitReachedError:
        raise LimitExceeded(
            "a stream in the PDF decompresses to more bytes than allowed",
            limit=bound,
            setting="max_decompressed_bytes",
        ) from None
    except PyPdfError as exc:
        raise UnreadableFile(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})"[:300]) from None
    levels = _pdf_heading_levels(sized)
    parts: list[str] = []
    headings: list[Heading] = []
    offset = 0
    for number, (page_text, page_lines) in enumerate(zip(pages, sized, strict=True), start=1):
        body = page_text.strip()
        if not body:
            continue
        if levels:
            headings.extend(_pdf_headings(body, page_lines, levels, offset))
            _check_headings(headings, limits)
        else:
            headings.append(Heading(offset, 2, f"Page {number}"))
        parts.append(body + "\n\n")
        offset += len(body) + 2
    text = "".join(parts)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = str(meta_title).strip() or (first if 0 < len(first) <= 80 else _title_from_stem(stem))
    return LoadedText(title=title, text=text, headings=headings)


class _SizedLines:
    """pypdf's text visitor: the page's lines with the largest font size used on each (the size in the
    text matrix times the font size, i.e. as printed)."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []
        self.size = 0.0
        self.text = ""

    def visit(self, text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        scale = abs(float(tm[3])) if tm is not None and len(tm) > 3 and tm[3] else 1.0
        pieces = text.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                self._end_line()
            if piece.strip():
                self.text += piece
                self.size = max(self.size, round(float(size or 0) * scale, 1))

    def _end_line(self) -> None:
        if self.text.strip():
            self.lines.append((self.size, " ".join(self.text.split())))
        self.text, self.size = "", 0.0

    def done(self) -> list[tuple[float, str]]:
        self._end_line()
        return self.lines


_PDF_HEADING_CHARS = 120


def _pdf_heading_levels(pages: list[list[tuple[float, str]]]) -> dict[float, int]:
    """Heading levels by font size: the sizes larger than the body's (the size most characters are set
    in) that only short lines use, largest first as level 1. Empty when the document has none (one font
    size throughout): its pages are then its sections."""
    chars: dict[float, int] = {}
    longest: dict[float, int] = {}
    for lines in pages:
        for size, line in lines:
            chars[size] = chars.get(size, 0) + len(line)
            longest[size] = max(longest.get(size, 0), len(line))
    if not chars:
        return {}
    body = max(chars, key=lambda size: (chars[size], -size))
    larger = sorted((s for s in chars if s > body + 0.5 and longest[s] <= _PDF_HEADING_CHARS), reverse=True)
    return {size: level for level, size in enumerate(larger[:3], start=1)}


def _pdf_headings(
    body: str, lines: list[tuple[float, str]], levels: dict[float, int], offset: int
) -> list[Heading]:
    """The headings of one page: its lines set in a heading size, found in the extracted page text in
    order; a heading wrapped over consecutive lines of the same size is one heading."""
    found: list[Heading] = []
    at = 0
    previous: tuple[int, int] | None = None  # (level, end in body) of the heading just before
    for size, line in lines:
        level = levels.get(size)
        position = body.find(line, at) if level else -1
        if level is None or position < 0:
            if line.strip():
                previous = None
            continue
        end = position + len(line)
        if previous and previous[0] == level and not body[previous[1] : position].strip():
            last = found[-1]
            found[-1] = Heading(last.offset, level, f"{last.text} {line}")
        else:
            found.append(Heading(offset + position, level, line))
        previous = (level, end)
        at = end
    return found


def _pdf_declared_pages(reader: Any) -> int:
    """The page count the PDF's page tree declares (0 when it declares none or nonsense)."""
    try:
        count = reader.trailer["/Root"].get_object()["/Pages"].get_object().get("/Count", 0)
        return max(int(count), 0)
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0


def _pdf_content_bytes(page: Any) -> int:
    """Decode a page's content streams (pypdf keeps the result for extract_text) and count the bytes."""
    contents = page.get("/Contents")
    if contents is None:
        return 0
    target = contents.get_object()
    streams = list(target) if isinstance(target, list) else [target]
    total = 0
    for stream in streams:
        stream = stream.get_object()
        if hasattr(stream, "get_data"):
            total += len(stream.get_data())
    return total


# ---- Word ------------------------------------------------------------------------------------------
# A .docx is read straight from its zip parts with a streaming XML parser (expat) instead of python-docx,
# which builds the whole XML tree in memory first: sizes are checked before anything is decompressed,
# text is counted as it streams, and a DOCTYPE (Word never writes one) is refused, so no entity expands.

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_DC_TITLE = "http://purl.org/dc/elements/1.1/ title"
_MAX_XML_DEPTH = 256
_SMALL_PART = 1 << 20  # parts under 1 MiB are not held to the compression ratio


def _refuse_dtd(*_args: object) -> None:
    raise UnreadableFile("the Word document's XML declares a DOCTYPE or entities, which are refused")


def _parse_xml(
    archive: zipfile.ZipFile,
    name: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None],
    data: Callable[[str], None] | None = None,
) -> None:
    """Stream one zip part through expat with entity declarations refused."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.ExternalEntityRefHandler = lambda *_args: 0  # never fetch anything
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    if data is not None:
        parser.CharacterDataHandler = data
    try:
        with archive.open(name) as stream:
            while piece := stream.read(_FEED):
                parser.Parse(piece, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise UnreadableFile(f"corrupt Word document: {name} is not well-formed XML ({exc})") from None


def _open_docx(data: bytes, limits: IngestLimits) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise UnreadableFile(
            f"corrupt or unreadable Word document (not a valid ZIP archive: {exc})"
        ) from None
    total = sum(info.file_size for info in infos)
    if total > limits.max_decompressed_bytes:
        raise LimitExceeded(
            f"the Word document decompresses to {total:,} bytes",
            limit=limits.max_decompressed_bytes,
            setting="max_decompressed_bytes",
        )
    names = {info.filename for info in infos}
    if "word/document.xml" not in names:
        raise UnreadableFile("corrupt or unreadable Word document: it has no word/document.xml part")
    for info in infos:
        if info.file_size > _SMALL_PART and info.file_size > limits.max_compression_ratio * max(
            info.compress_size, 1
        ):
            raise LimitExceeded(
                f"the Word document part {info.filename} expands "
                f"{info.file_size // max(info.compress_size, 1):,} times when decompressed",
                limit=limits.max_compression_ratio,
                setting="max_compression_ratio",
            )
    return archive


def _docx_styles(archive: zipfile.ZipFile) -> dict[str, str]:
    """Style id -> style name, from word/styles.xml when present."""
    names: dict[str, str] = {}
    current: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == f"{_W} style":
            current[:] = [attrs.get(f"{_W} styleId", "")]
        elif tag == f"{_W} name" and current and current[0]:
            names[current[0]] = attrs.get(f"{_W} val", "")

    if "word/styles.xml" in archive.namelist():
        _parse_xml(archive, "word/styles.xml", start, lambda tag: None)
    return names


def _docx_title(archive: zipfile.ZipFile) -> str:
    if "docProps/core.xml" not in archive.namelist():
        return ""
    found: list[str] = []
    inside = [False]

    def start(tag: str, attrs: dict[str, str]) -> None:
        inside[0] = tag == _DC_TITLE

    def end(tag: str) -> None:
        inside[0] = False

    def data(text: str) -> None:
        if inside[0] and sum(map(len, found)) < 1000:
            found.append(text)

    _parse_xml(archive, "docProps/core.xml", start, end, data)
    return " ".join("".join(found).split())


class _DocxBody:
    """Expat handlers for word/document.xml: paragraphs and table rows in document order."""

    def __init__(self, styles: dict[str, str], limits: IngestLimits) -> None:
        self.styles = styles
        self.limits = limits
        self.chars = 0
        self.stack: list[str] = []
        self.paragraphs: list[tuple[list[str], str]] = []  # open paragraphs: (text pieces, style id)
        self.cells: list[list[str]] = []  # open table cells: their paragraphs' text
        self.rows: list[list[str]] = []  # open table rows: their cells' text
        self.tables: list[list[list[str]]] = []  # open tables: their rows
        self.out: list[tuple[str, str]] = []  # (style id, text) of body paragraphs; style "|" for tables
        self.in_text = False

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if len(self.stack) == 0 and tag != f"{_W} document":
            raise UnreadableFile(
                f"corrupt Word document: word/document.xml holds <{tag.split(' ')[-1]}>, not a document body"
            )
        if len(self.stack) >= _MAX_XML_DEPTH:
            raise UnreadableFile(f"the Word document is nested more than {_MAX_XML_DEPTH} levels deep")
        parent = self.stack[-1] if self.stack else ""
        self.stack.append(tag)
        if not tag.startswith(_W):
            return
        local = tag[len(_W) + 1 :]
        if local == "p":
            self.paragraphs.append(([], ""))
        elif local == "pStyle" and self.paragraphs and parent == f"{_W} pPr":
            self.paragraphs[-1] = (self.paragraphs[-1][0], attrs.get(f"{_W} val", ""))
        elif local == "tc":
            self.cells.append([])
        elif local == "tr":
            self.rows.append([])
        elif local == "tbl":
            self.tables.append([])
        elif parent == f"{_W} r" and self.paragraphs:
            if local == "t":
                self.in_text = True
            elif local in ("tab", "ptab"):
                self._add("\t")
            elif local in ("br", "cr"):
                self._add("\n")
            elif local == "noBreakHyphen":
                self._add("-")

    def end(self, tag: str) -> None:
        self.stack.pop()
        if not tag.startswith(_W):
            return
        local = tag[len(_W) + 1 :]
        if local == "t":
            self.in_text = False
        elif local == "p" and self.paragraphs:
            pieces, style = self.paragraphs.pop()
            text = "".join(pieces).strip()
            if self.paragraphs:  # a paragraph inside another (a text box): its text joins the outer one
                self.paragraphs[-1][0].append(" " + text)
            elif self.cells:
                self.cells[-1].append(text)
            elif text:
                self.out.append((style, text))
        elif local == "tc" and self.cells:
            cell = "\n".join(self.cells.pop()).strip()
            if self.rows:
                self.rows[-1].append(cell)  # empty cells too: columns stay aligned
        elif local == "tr" and self.rows:
            row = self.rows.pop()
            if any(row) and self.tables:
                self.tables[-1].append(row)
        elif local == "tbl" and self.tables:
            rows = self.tables.pop()
            if rows and self.cells:  # a table inside a cell: its rows become lines of that cell
                self.cells[-1].extend(" | ".join(c for c in row if c) for row in rows)
            elif rows:
                self.out.append(("|", _pipe_table(rows)))

    def data(self, text: str) -> None:
        if self.in_text:
            self._add(text)

    def _add(self, text: str) -> None:
        self.chars += len(text)
        _check_chars(self.chars, self.limits)
        if self.paragraphs:
            self.paragraphs[-1][0].append(text)


def load_docx(data: bytes, stem: str, limits: IngestLimits) -> LoadedText:
    archive = _open_docx(data, limits)
    styles = _docx_styles(archive)
    body = _DocxBody(styles, limits)
    _parse_xml(archive, "word/document.xml", body.start, body.end, body.data)
    parts: list[str] = []
    headings: list[Heading] = []
    offset = 0
    title = _docx_title(archive)
    for style, block in body.out:
        if style == "|":  # a table: a block of its own, like a paragraph
            parts.append(block + "\n\n")
            offset += len(block) + 2
            continue
        level = _docx_heading_level(styles.get(style, style))
        if level is not None:
            headings.append(Heading(offset, level, block))
            _check_headings(headings, limits)
            if level == 1 and not title:
                title = block
        parts.append(block + "\n\n")
        offset += len(block) + 2
    return LoadedText(title=title or _title_from_stem(stem), text="".join(parts), headings=headings)


def _docx_heading_level(style: str) -> int | None:
    """Heading level of a Word style, by name ("heading 2", "Title") or, without styles.xml, by id."""
    name = style.replace(" ", "").lower()
    if name == "title":
        return 1
    m = re.fullmatch(r"heading(\d)", name)
    return int(m.group(1)) if m else None


def _title_from_stem(stem: str) -> str:
    return re.sub(r"[-_]+", " ", stem).strip().capitalize() or "Untitled"


_LOADERS: dict[str, Callable[[bytes, str, IngestLimits], LoadedText]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}
