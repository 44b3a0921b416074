"""Text cut into chunks that respect its structure: a chunk never spans two sections (a
heading starts a new one), is cut between paragraphs where it can, then between sentences,
then between words; each chunk after the first of a section repeats the end of the one before
(`overlap_chars`), so that a sentence cut at a boundary is found whole in one of the two."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    heading: str  # the section's headings, outermost first, joined by " > "; "" if none
    content: str


@dataclass(frozen=True, slots=True)
class _Section:
    heading: str
    paragraphs: list[str]


def sections(text: str) -> list[_Section]:
    """Markdown-style text as sections: each heading line opens one; blank lines part
    paragraphs. Text before the first heading is a section without a heading."""
    found: list[_Section] = []
    path: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    lines: list[str] = []

    def close_paragraph() -> None:
        joined = " ".join(line.strip() for line in lines).strip()
        if joined:
            paragraphs.append(joined)
        lines.clear()

    def close_section() -> None:
        close_paragraph()
        if paragraphs:
            found.append(_Section(" > ".join(title for _, title in path), list(paragraphs)))
        paragraphs.clear()

    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            close_section()
            level = len(heading.group(1))
            path[:] = [(lvl, title) for lvl, title in path if lvl < level]
            path.append((level, heading.group(2)))
        elif line.strip():
            lines.append(line)
        else:
            close_paragraph()
    close_section()
    return found


def chunk_text(text: str, *, size_chars: int, overlap_chars: int) -> list[Chunk]:
    if size_chars < 1 or not 0 <= overlap_chars < size_chars:
        raise ValueError("need size_chars >= 1 and 0 <= overlap_chars < size_chars")
    chunks: list[Chunk] = []
    for section in sections(text):
        pieces = [
            piece
            for paragraph in section.paragraphs
            for piece in _pieces(paragraph, size_chars, size_chars - overlap_chars - 2)
        ]
        for content in _pack(pieces, size_chars, overlap_chars):
            chunks.append(Chunk(section.heading, content))
    return chunks


def _pieces(paragraph: str, size: int, cut_at: int) -> list[str]:
    """A paragraph as one piece if it fits, else its sentences, else its words' runs; cut
    pieces are at most `cut_at` long, so that the overlap fits beside them."""
    if len(paragraph) <= size:
        return [paragraph]
    size = max(1, cut_at)
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        if len(sentence) <= size:
            pieces.append(sentence)
            continue
        run = ""
        for word in sentence.split():
            while len(word) > size:  # a "word" longer than a chunk (a URL, a hash): cut it
                if run:
                    pieces.append(run)
                    run = ""
                pieces.append(word[:size])
                word = word[size:]
            if run and len(run) + 1 + len(word) > size:
                pieces.append(run)
                run = word
            else:
                run = f"{run} {word}" if run else word
        if run:
            pieces.append(run)
    return pieces


def _pack(pieces: list[str], size: int, overlap: int) -> list[str]:
    """Pieces joined into chunks of at most `size` characters; a new chunk starts with the
    last `overlap` characters of the previous one (from a word boundary)."""
    chunks: list[str] = []
    current = ""
    fresh = True  # `current` holds only carried-over text
    for piece in pieces:
        glue = "\n\n" if current else ""
        if current and len(current) + len(glue) + len(piece) > size:
            if not fresh:
                chunks.append(current)
            current = _tail(current, overlap, room=size - len(piece) - 2)
            glue = "\n\n" if current else ""
        current = f"{current}{glue}{piece}"
        fresh = False
    if current and not fresh:
        chunks.append(current)
    return chunks


def _tail(text: str, overlap: int, *, room: int) -> str:
    """The end of `text`, at most `min(overlap, room)` characters, starting at a word."""
    limit = min(overlap, room)
    if limit <= 0:
        return ""
    tail = text[-limit:]
    if len(text) > limit:
        space = tail.find(" ")
        tail = tail[space + 1 :] if space >= 0 else ""
    return tail.strip()
