"""Reading documents: kinds told apart, structure kept as Markdown headings."""

from __future__ import annotations

import pytest

from taskloom.knowledge.extract import Kind, UnreadableDocument, extract_text, kind_of
from tests.knowledge.documents import docx_bytes, pdf_bytes


def test_pdf_pages_become_paragraphs() -> None:
    data = pdf_bytes(["Page one (first)", "Page two"])
    assert kind_of(data, name="x.bin", content_type=None) is Kind.PDF
    assert extract_text(data, name="x.pdf", content_type=None) == "Page one (first)\n\nPage two"


def test_docx_headings_become_markdown_headings() -> None:
    data = docx_bytes([("heading", "Intro"), ("text", "Body text.")])
    assert kind_of(data, name="upload", content_type="application/octet-stream") is Kind.DOCX
    text = extract_text(data, name="a.docx", content_type=None)
    assert text.split("\n\n")[:2] == ["# Intro", "Body text.\n"]


def test_html_keeps_headings_and_drops_scripts() -> None:
    html = b"<html><head><style>p{}</style></head><body><h2>Sub</h2><p>a &amp; b</p>"
    html += b"<script>alert(1)</script></body></html>"
    assert extract_text(html, name="page", content_type="text/html") == "## Sub\n\na & b"


def test_markdown_and_text_pass_through() -> None:
    assert extract_text(b"# T\n\nx", name="a.md", content_type=None) == "# T\n\nx"
    assert kind_of(b"plain", name="notes", content_type=None) is Kind.TEXT


@pytest.mark.parametrize(
    ("data", "name"),
    [(b"%PDF-1.4 broken", "a.pdf"), (b"\x00\x01\x02binary", "a.bin")],
)
def test_unreadable_documents_are_refused(data: bytes, name: str) -> None:
    with pytest.raises(UnreadableDocument):
        extract_text(data, name=name, content_type=None)
