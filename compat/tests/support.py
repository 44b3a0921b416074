"""What the compatibility tests share: the server compat/run started, workflow bodies, and
waiting against a deadline. Runs in the SDK's virtualenv: nothing of taskloom is importable."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

# creates a workflow from a body, deploys it, returns its id (the `deploy` fixture)
Deploy = Callable[[dict[str, Any]], Awaitable[str]]

TERMINAL = frozenset({"completed", "error", "failed", "stopped"})


@dataclass(frozen=True)
class Server:
    """The taskloom server under test, as compat/run passes it in."""

    base_url: str
    api_key: str
    organization_id: str

    @classmethod
    def from_env(cls) -> Server:
        missing = [
            name
            for name in ("XPANDER_BASE_URL", "XPANDER_API_KEY", "XPANDER_ORGANIZATION_ID")
            if not os.environ.get(name)
        ]
        if missing:
            raise RuntimeError(f"run the suite through compat/run ({', '.join(missing)} unset)")
        return cls(
            base_url=os.environ["XPANDER_BASE_URL"].rstrip("/"),
            api_key=os.environ["XPANDER_API_KEY"],
            organization_id=os.environ["XPANDER_ORGANIZATION_ID"],
        )


def code_node(node_id: str, body: str, *, next_ids: list[str] | None = None) -> dict[str, Any]:
    """A code node whose `main(input)` body is `body`."""
    source = "def main(input):\n" + "\n".join(f"    {line}" for line in body.splitlines())
    return {
        "id": node_id,
        "type": "code",
        "name": node_id,
        "definition": {"code": source},
        "next_node_ids": next_ids or [],
    }


def shout() -> dict[str, Any]:
    """Two code nodes in a row, text in and text out: `hello` -> `HELLO!`."""
    return {
        "name": "shout",
        "output_format": "text",
        "orchestration_nodes": [
            code_node("upper", "return input.upper()", next_ids=["bang"]),
            code_node("bang", "return input + '!'"),
        ],
    }


def napper(seconds: float) -> dict[str, Any]:
    """One code node that sleeps: a task that is still running when the test acts on it."""
    return {
        "name": "napper",
        "output_format": "text",
        "orchestration_nodes": [
            code_node("nap", f"import time\ntime.sleep({seconds})\nreturn input + ' rested'")
        ],
    }


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    *,
    within_s: float = 60.0,
    interval_s: float = 0.1,
) -> T:
    """Call `check` until it returns something other than None, or fail at the deadline."""
    deadline = time.monotonic() + within_s
    while True:
        value = await check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within_s} s")
        await asyncio.sleep(interval_s)
