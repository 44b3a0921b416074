"""Reciprocal rank fusion."""

from __future__ import annotations

import pytest

from taskloom.knowledge.fusion import fuse


def test_items_in_both_rankings_beat_items_in_one() -> None:
    fused = fuse([["a", "b", "c"], ["c", "d", "a"]])
    assert [item for item, _ in fused][:2] == ["a", "c"]
    assert dict(fused)["a"] == pytest.approx(1 / 61 + 1 / 63)


def test_ties_keep_first_seen_order() -> None:
    assert [item for item, _ in fuse([["x"], ["y"]])] == ["x", "y"]


def test_one_ranking_keeps_its_order() -> None:
    assert [item for item, _ in fuse([[3, 1, 2]])] == [3, 1, 2]


def test_no_rankings_fuse_to_nothing() -> None:
    assert fuse([]) == []
