"""A document's bytes as text, its structure kept as Markdown headings (which chunking.py
cuts at): PDF (pypdf), Word (python-docx: `Heading N` styles become headings), HTML (`h1`-`h6`
become headings, scripts and styles dropped), Markdown and plain text as they are."""

from __future__ import annotations

import io
import re
import zipfile
from enum import StrEnum
from html.parser import HTMLParser

from taskloom import errors


class Kind(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"


_BY_TYPE = {
    "application/pdf": Kind.PDF,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": Kind.DOCX,
    "text/html": Kind.HTML,
    "application/xhtml+xml": Kind.HTML,
    "text/markdown": Kind.MARKDOWN,
    "text/x-markdown": Kind.MARKDOWN,
    "text/plain": Kind.TEXT,
}
_BY_SUFFIX = {
    ".pdf": Kind.PDF,
    ".docx": Kind.DOCX,
    ".html": Kind.HTML,
    ".htm": Kind.HTML,
    ".md": Kind.MARKDOWN,
    ".markdown": Kind.MARKDOWN,
    ".txt": Kind.TEXT,
    ".text": Kind.TEXT,
}


class UnreadableDocument(errors.InvalidRequest):
    """The document is not one of the kinds taskloom reads, or it is broken."""


def kind_of(data: bytes, *, name: str, content_type: str | None) -> Kind:
    """What the document is: its bytes decide where they are unmistakable, then its
    declared type, then its name's suffix; anything else that decodes as text is text."""
    if data.startswith(b"%PDF-"):
        return Kind.PDF
    if data.startswith(b"PK") and _is_docx(data):
        return Kind.DOCX
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared in _BY_TYPE and _BY_TYPE[declared] not in (Kind.PDF, Kind.DOCX):
        return _BY_TYPE[declared]
    lowered = name.lower().split("?")[0]
    for suffix, kind in _BY_SUFFIX.items():
        if lowered.endswith(suffix) and kind not in (Kind.PDF, Kind.DOCX):
            return kind
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return Kind.HTML
    return Kind.TEXT


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def extract_text(data: bytes, *, name: str, content_type: str | None) -> str:
    kind = kind_of(data, name=name, content_type=content_type)
    try:
        if kind is Kind.PDF:
            return _pdf(data)
        if kind is Kind.DOCX:
            return _docx(data)
        text = _decode(data)
        return _html(text) if kind is Kind.HTML else text
    except UnreadableDocument:
        raise
    except Exception as exc:
        raise UnreadableDocument(f"{name!r} could not be read as {kind}: {exc}") from exc


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise UnreadableDocument("the document is binary, not one of PDF, DOCX, HTML or text")
    for encoding in (
        ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",)
    ):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader  # loaded only when a PDF arrives

    reader = PdfReader(io.BytesIO(data))
    pages = [page.extract_text() or "" for page in reader.pages]
    # a page break is a paragraph break, and lines inside a page stay paragraphs' lines
    return "\n\n".join(page.strip() for page in pages if page.strip())


def _docx(data: bytes) -> str:
    import docx  # python-docx, loaded only when a Word document arrives

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = re.fullmatch(r"Heading (\d)", style)
        if style == "Title":
            lines.append(f"# {text}")
        elif level:
            lines.append(f"{'#' * min(int(level.group(1)), 6)} {text}")
        else:
            lines.append(text)
        lines.append("")
    return "\n".join(lines)


class _HtmlText(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "section", "article", "li", "tr", "br", "blockquote", "pre", "table"}
    )
    _SKIP = frozenset({"script", "style", "noscript", "template", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append(f"\n\n{'#' * int(tag[1])} ")
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(" ".join(data.split()) if data.strip() else " ")


def _html(text: str) -> str:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
