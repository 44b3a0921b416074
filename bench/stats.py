"""Small statistics helpers: percentiles of one run, and median with spread across runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks.

    Returns NaN for an empty sample so that a failed workload shows up as a gap, not a zero.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_ms(values_s: Sequence[float], *quantiles: float) -> list[float]:
    """Percentiles of latencies given in seconds, in milliseconds."""
    return [percentile(values_s, q) * 1000.0 for q in quantiles]


def rate(count: int, seconds: float) -> float:
    """count / seconds, NaN when nothing could be timed."""
    if seconds <= 0 or count <= 0:
        return math.nan
    return count / seconds


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when either side is missing."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return math.nan
    return numerator / denominator


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of a figure over several runs, with the smallest and largest value seen."""

    median: float
    low: float
    high: float
    runs: int

    def as_dict(self) -> dict[str, float | int]:
        return {"median": self.median, "min": self.low, "max": self.high, "runs": self.runs}


def spread(values: Sequence[float]) -> Spread:
    """Median and min-max of the values that were measured (NaNs are runs that failed)."""
    measured = [v for v in values if not math.isnan(v)]
    if not measured:
        return Spread(math.nan, math.nan, math.nan, 0)
    return Spread(statistics.median(measured), min(measured), max(measured), len(measured))
