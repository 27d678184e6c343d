"""Hostile files, generated in memory (no binaries in the repository): malformed and truncated office and
PDF files, decompression bombs, entity expansion, deep nesting, huge lines, page floods, huge imports.

Each builder returns the file's bytes; `CORPUS` names every upload case with the file name to send.
"""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from collections.abc import Callable, Iterator

from tests.support.documents import make_docx, make_pdf, pdf_file

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
RELS = (
    '<?xml version="1.0"?><Relationships '
    'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)
MiB = 1024 * 1024


def zip_of(parts: dict[str, str | bytes | Callable[[], Iterator[bytes]]]) -> bytes:
    """A zip (deflated) of these parts; a callable part is streamed in, so a bomb never sits in memory."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, body in parts.items():
            if callable(body):
                with archive.open(name, "w", force_zip64=True) as part:
                    for piece in body():
                        part.write(piece)
            else:
                archive.writestr(name, body)
    return out.getvalue()


def minimal_docx(document_xml: str) -> bytes:
    """The issue's malformed upload: a minimal [Content_Types].xml, the package relationships and a
    word/document.xml that is not a Word body."""
    return zip_of(
        {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": RELS, "word/document.xml": document_xml}
    )


def _body(text_pieces: Callable[[], Iterator[str]]) -> Callable[[], Iterator[bytes]]:
    def stream() -> Iterator[bytes]:
        yield f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>'.encode()
        for piece in text_pieces():
            yield piece.encode()
        yield b"</w:t></w:r></w:p></w:body></w:document>"

    return stream


def docx_bomb(megabytes: int = 320) -> bytes:
    """The issue's bomb: under 1 MB on disk, `megabytes` of text in word/document.xml."""

    def text() -> Iterator[str]:
        line = "mentoring " * (MiB // 10)
        for _ in range(megabytes):
            yield line

    return zip_of(
        {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": RELS, "word/document.xml": _body(text)}
    )


def docx_long_text(chars: int) -> bytes:
    """A docx holding `chars` characters of text that does not compress much (random letters)."""
    rng = random.Random(12)

    def text() -> Iterator[str]:
        left = chars
        while left > 0:
            n = min(left, MiB)
            yield "".join(rng.choices("abcdefghijklmnopqrstuvwxyz      ", k=n))
            left -= n

    return zip_of(
        {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": RELS, "word/document.xml": _body(text)}
    )


def docx_entity_expansion() -> bytes:
    """'Billion laughs' in word/document.xml: nested entities that expand to gigabytes."""
    levels = ['<!ENTITY a0 "lol">'] + [f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)]
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [{"".join(levels)}]>'
        f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&a9;</w:t></w:r></w:p></w:body></w:document>'
    )
    return minimal_docx(xml)


def docx_external_entity() -> bytes:
    xml = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>'
    )
    return minimal_docx(xml)


def docx_deep_nesting(depth: int = 20_000) -> bytes:
    xml = f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body>' + "<w:sdt>" * depth
    return minimal_docx(xml + "</w:sdt>" * depth + "</w:body></w:document>")


def docx_lying_sizes(megabytes: int = 50) -> bytes:
    """A docx whose zip headers declare word/document.xml to be 1,000 bytes while it holds `megabytes`:
    the size check must not be the only bound (reading stops at the declared size, the CRC then fails)."""
    text = "advice " * (megabytes * MiB // 7)
    xml = f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p>'
    data = bytearray(zip_of({"word/document.xml": xml + "</w:body></w:document>"}))
    declared = (1000).to_bytes(4, "little")
    assert data[:4] == b"PK\x03\x04"
    data[22:26] = declared  # local header: uncompressed size
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = declared  # central directory: uncompressed size
    return bytes(data)


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def pdf_bomb(megabytes: int = 100) -> bytes:
    """A one-page PDF whose content stream is `megabytes` of spaces compressed with FlateDecode (~100 kB)."""
    packer = zlib.compressobj(9)
    stream = b"".join(packer.compress(b" " * MiB) for _ in range(megabytes)) + packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return pdf_file(objects)


def nested_html(depth: int) -> bytes:
    return ("<html><body>" + "<div>" * depth + "<p>deep</p>" + "</div>" * depth + "</body></html>").encode()


def people_csv(rows: int) -> bytes:
    lines = ["name,email,role,timezone,languages,goals"] + [
        f"P{n},p{n}@example.org,mentee,UTC,English,grow" for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def _guide_docx() -> bytes:
    return make_docx(
        [("h1", "Feedback"), ("p", "Describe the situation, then the behaviour and its impact.")]
    )


def _guide_pdf() -> bytes:
    return make_pdf([["Feedback basics", "Describe the situation first."], ["Second page."]])


# (case id, file name, builder): every one must get a 4xx, quickly, and write nothing
CORPUS: list[tuple[str, str, Callable[[], bytes]]] = [
    ("docx-not-a-body", "bad.docx", lambda: minimal_docx('<?xml version="1.0"?><foo/>')),
    ("docx-no-document-part", "bad.docx", lambda: zip_of({"[Content_Types].xml": CONTENT_TYPES})),
    ("docx-broken-xml", "bad.docx", lambda: minimal_docx(f'<w:document xmlns:w="{W}"><w:body><w:p>')),
    ("docx-truncated", "cut.docx", lambda: truncated(_guide_docx())),
    ("docx-bomb-320mb", "bomb.docx", docx_bomb),
    ("docx-ratio-bomb-60mb", "bomb.docx", lambda: docx_bomb(60)),
    ("docx-over-max-chars", "long.docx", lambda: docx_long_text(2_500_000)),
    ("docx-billion-laughs", "laughs.docx", docx_entity_expansion),
    ("docx-external-entity", "xxe.docx", docx_external_entity),
    ("docx-deep-nesting", "deep.docx", docx_deep_nesting),
    ("docx-lying-sizes", "lies.docx", docx_lying_sizes),
    ("pdf-truncated", "cut.pdf", lambda: truncated(_guide_pdf())),
    ("pdf-garbage-after-header", "bad.pdf", lambda: b"%PDF-1.7\n" + random.Random(3).randbytes(200_000)),
    ("pdf-5000-empty-pages", "empty.pdf", lambda: make_pdf([[] for _ in range(5000)])),
    ("pdf-1500-empty-pages", "empty.pdf", lambda: make_pdf([[] for _ in range(1500)])),
    ("pdf-bomb-100mb", "bomb.pdf", pdf_bomb),
    ("html-300k-nested", "deep.html", lambda: nested_html(300_000)),
    ("html-9mb-of-lt", "lt.html", lambda: b"<" * (9 * MiB)),
    ("md-9mb-single-line", "line.md", lambda: b"# " + b"word " * (9 * MiB // 5)),
    ("txt-9mb-single-line", "line.txt", lambda: b"x" * (9 * MiB)),
    ("md-470k-headings", "headings.md", lambda: b"# h\n" * 470_000),
    ("txt-binary", "image.txt", lambda: b"\x89PNG\r\n\x1a\n\x00\x00" + random.Random(4).randbytes(50_000)),
]
