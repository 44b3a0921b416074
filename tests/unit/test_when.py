"""When a self_schedule node continues, read without a model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taskloom.nodes.when import parse_when

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-24T09:30:00Z", datetime(2026, 12, 24, 9, 30, tzinfo=UTC)),
        ("2026-12-24T09:30:00+02:00", datetime(2026, 12, 24, 7, 30, tzinfo=UTC)),
        ("2026-12-24T09:30", datetime(2026, 12, 24, 9, 30, tzinfo=UTC)),  # no offset: UTC
        ("PT15M", NOW + timedelta(minutes=15)),
        ("P1DT2H", NOW + timedelta(days=1, hours=2)),
        ("P2W", NOW + timedelta(weeks=2)),
        ("PT0.5S", NOW + timedelta(seconds=0.5)),
        ("in 10 minutes", NOW + timedelta(minutes=10)),
        ("2h", NOW + timedelta(hours=2)),
        (" 3 days ", NOW + timedelta(days=3)),
    ],
)
def test_times_and_durations_are_read_without_a_model(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "tomorrow at nine", "P", "PT", "in 10 parsecs", "soon"])
def test_anything_else_is_left_to_a_model(text: str) -> None:
    assert parse_when(text, NOW) is None
