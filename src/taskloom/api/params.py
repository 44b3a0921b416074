"""Query parameters several routes share, each with its bounds: every integer a client sends
is checked against one before it reaches a query (SQLite refuses integers past 64 bits, and
PostgreSQL's `integer` columns past 32)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError

from taskloom.api.deps import State
from taskloom.config import ApiConfig

# Versions, turns and event sequence numbers are `integer` columns: 32 bits on PostgreSQL.
# Not a limit anyone would tune; what the store can hold.
INT32_MAX = 2**31 - 1
DEFAULT_PER_PAGE = 20


@dataclass(frozen=True, slots=True)
class Paging:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def checked_paging(api: ApiConfig, *, page: int, per_page: int, max_per_page: int) -> Paging:
    """`page` and `per_page` within the server's limits, or 422 naming every one past them."""
    problems = [
        _too_large(name, value, limit)
        for name, value, limit in (
            ("page", page, api.max_page),
            ("per_page", per_page, max_per_page),
        )
        if value > limit
    ]
    if problems:
        raise RequestValidationError(problems)
    return Paging(page=page, per_page=per_page)


def _too_large(name: str, value: int, limit: int) -> dict[str, Any]:
    # FastAPI's own shape for `Query(le=...)`; a huge value is not echoed whole
    shown: int | str = value if value.bit_length() <= 64 else f"{str(value)[:20]}..."
    return {
        "type": "less_than_equal",
        "loc": ["query", name],
        "msg": f"Input should be less than or equal to {limit}",
        "input": shown,
        "ctx": {"le": limit},
    }


async def paging(
    state: State,
    page: Annotated[
        int, Query(ge=1, description="from 1; at most the server's `max_page` (10000)")
    ] = 1,
    per_page: Annotated[
        int | None,
        Query(ge=1, description="default 20; at most the server's `max_per_page` (50)"),
    ] = None,
) -> Paging:
    """The contract's paging (docs/api.md): `page` from 1, `per_page` 1-50, default 20 (or the
    server's `max_per_page`, if it is set lower)."""
    limit = state.api.max_per_page
    wanted = min(DEFAULT_PER_PAGE, limit) if per_page is None else per_page
    return checked_paging(state.api, page=page, per_page=wanted, max_per_page=limit)


Pages = Annotated[Paging, Depends(paging)]
