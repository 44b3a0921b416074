"""Chunking: sections at headings, paragraphs kept whole where they fit, overlap between
neighbours, never past the size."""

from __future__ import annotations

import itertools

import pytest

from taskloom.knowledge.chunking import chunk_text, sections


def test_sections_follow_the_heading_path() -> None:
    text = "intro line\n\n# A\n\none\n\n## B\n\ntwo\n\n# C\n\nthree\n"
    assert [(s.heading, s.paragraphs) for s in sections(text)] == [
        ("", ["intro line"]),
        ("A", ["one"]),
        ("A > B", ["two"]),
        ("C", ["three"]),
    ]


def test_lines_of_a_paragraph_are_joined() -> None:
    assert sections("first line\nsecond line\n\nnext")[0].paragraphs == [
        "first line second line",
        "next",
    ]


def test_a_chunk_never_spans_two_sections() -> None:
    chunks = chunk_text("# A\n\nalpha\n\n# B\n\nbeta", size_chars=1000, overlap_chars=10)
    assert [(c.heading, c.content) for c in chunks] == [("A", "alpha"), ("B", "beta")]


def test_paragraphs_are_packed_up_to_the_size() -> None:
    text = "\n\n".join(["a" * 40, "b" * 40, "c" * 40])
    chunks = chunk_text(text, size_chars=90, overlap_chars=0)
    assert [c.content for c in chunks] == ["a" * 40 + "\n\n" + "b" * 40, "c" * 40]


def test_neighbouring_chunks_overlap_from_a_word_boundary() -> None:
    words = " ".join(f"w{n}" for n in range(200))
    chunks = chunk_text(words, size_chars=100, overlap_chars=20)
    assert len(chunks) > 2
    for before, after in itertools.pairwise(chunks):
        carried = after.content.split("\n\n")[0]
        assert before.content.endswith(carried)
        assert 0 < len(carried) <= 20
        assert not carried.startswith(" ")


def test_no_chunk_is_longer_than_the_size() -> None:
    text = "# T\n\n" + ("Sentence number one is here. " * 50) + "\n\n" + "x" * 500
    chunks = chunk_text(text, size_chars=120, overlap_chars=30)
    assert all(len(c.content) <= 120 for c in chunks)
    joined = "".join(c.content for c in chunks)
    assert "x" * 120 in joined  # a word past the size is cut, not dropped


def test_long_paragraphs_are_cut_between_sentences() -> None:
    text = "First sentence is short. " + "Second one is a bit longer than the first. " * 3
    chunks = chunk_text(text, size_chars=60, overlap_chars=0)
    assert chunks[0].content == "First sentence is short."


def test_empty_text_makes_no_chunks() -> None:
    assert chunk_text("\n\n  \n# Only a heading\n", size_chars=100, overlap_chars=10) == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_sizes_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="size_chars"):
        chunk_text("text", size_chars=size, overlap_chars=overlap)
