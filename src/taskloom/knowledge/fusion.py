"""Reciprocal rank fusion: several rankings of the same items made into one.

An item's fused score is the sum, over the rankings it appears in, of 1 / (k + rank), rank
counted from 1. It needs no calibration between the rankings' own scores (a cosine distance
and a BM25 score are not comparable), and k = 60 is the value of the method's paper
(Cormack, Clarke, Büttcher, SIGIR 2009), which damps the weight of the first few places.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = 60
T = TypeVar("T", bound=Hashable)


def fuse(rankings: Sequence[Sequence[T]], *, k: int = K) -> list[tuple[T, float]]:
    """Items of every ranking with their fused scores, best first; ties keep the order in
    which the items were first seen."""
    scores: dict[T, float] = {}
    for ranking in rankings:
        for place, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + place)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)
