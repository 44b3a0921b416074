"""A thin client for the few taskloom routes the benchmark drives, and the tally of failures.

Every call is bounded: httpx timeouts on each request, and a deadline on every polling loop,
so a stuck server shows up as counted failures instead of a benchmark that never ends.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

TERMINAL = frozenset({"completed", "error", "failed", "stopped"})
POLL_SLEEP_S = 0.005  # bench/README.md: polling clients sleep 5 ms after a non-terminal answer

Task = dict[str, Any]


@dataclass
class Tally:
    """What went wrong in one workload. A clean workload has every count at zero."""

    http_errors: Counter[str] = field(default_factory=Counter)
    bad_statuses: Counter[str] = field(default_factory=Counter)
    unfinished: int = 0
    bad_results: int = 0
    checked: int = 0
    requests: int = 0  # HTTP requests sent, failed or not (not a problem in itself)

    def problems(self) -> int:
        return (
            sum(self.http_errors.values())
            + sum(self.bad_statuses.values())
            + self.unfinished
            + self.bad_results
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "http_errors": dict(self.http_errors),
            "non_completed_statuses": dict(self.bad_statuses),
            "unfinished_at_deadline": self.unfinished,
            "bad_results": self.bad_results,
            "results_checked": self.checked,
            "requests": self.requests,
            "problems": self.problems(),
        }


class Api:
    """The routes used by the workloads; failures are counted in `tally`, never raised."""

    def __init__(self, client: httpx.AsyncClient, tally: Tally | None = None) -> None:
        self.client = client
        self.tally = tally if tally is not None else Tally()

    async def _call(self, method: str, url: str, label: str, body: Any = None) -> Any | None:
        self.tally.requests += 1
        try:
            response = await self.client.request(method, url, json=body)
        except httpx.HTTPError as exc:
            self.tally.http_errors[f"{label}: {type(exc).__name__}"] += 1
            return None
        if not response.is_success:
            self.tally.http_errors[f"{label}: HTTP {response.status_code}"] += 1
            return None
        return response.json()

    async def invoke_async(
        self, workflow_id: str, text: str, *, kind: str = "workflows"
    ) -> Task | None:
        """`kind` is "workflows" or "agents": both have the same invoke routes."""
        url = f"/v1/{kind}/{workflow_id}/invoke/async"
        task: Task | None = await self._call("POST", url, "invoke/async", {"input": {"text": text}})
        return task

    async def invoke_sync(
        self, workflow_id: str, text: str, *, kind: str = "workflows"
    ) -> Task | None:
        url = f"/v1/{kind}/{workflow_id}/invoke"
        task: Task | None = await self._call("POST", url, "invoke", {"input": {"text": text}})
        return task

    async def get_task(self, task_id: str) -> Task | None:
        task: Task | None = await self._call("GET", f"/v1/tasks/{task_id}", "GET task")
        return task

    async def get_task_settled(self, task_id: str, wait_s: float) -> Task | None:
        """Long poll: the server answers once the task is terminal or paused, or after wait_s."""
        url = f"/v1/tasks/{task_id}?wait={wait_s:.1f}"
        task: Task | None = await self._call("GET", url, "GET task?wait")
        return task

    async def approve(self, task_id: str, decided_by: str) -> Task | None:
        body = {"decided_by": decided_by}
        task: Task | None = await self._call(
            "POST", f"/v1/tasks/{task_id}/approve", "approve", body
        )
        return task

    async def list_tasks(self, status: str) -> dict[str, Any] | None:
        page: dict[str, Any] | None = await self._call(
            "GET", f"/v1/tasks?status={status}&per_page=1", "GET tasks"
        )
        return page

    async def health(self) -> bool:
        return await self._call("GET", "/health", "GET /health") is not None

    async def wait_terminal(self, task: Task, deadline: float) -> Task | None:
        """Poll until the task is terminal; sleeps 5 ms after each non-terminal answer.

        The invoke answer itself is not slept on: a client polls right after invoking.
        Returns None (and counts the task as unfinished) when the deadline passes first.
        """
        if task["status"] in TERMINAL:
            return task
        while time.perf_counter() < deadline:
            current = await self.get_task(task["id"])
            if current is not None and current["status"] in TERMINAL:
                return current
            await asyncio.sleep(POLL_SLEEP_S)
        self.tally.unfinished += 1
        return None

    def record_terminal(self, task: Task) -> bool:
        """Count a terminal task; True if it completed."""
        return self.record(self.tally, task)

    @staticmethod
    def record(tally: Tally, task: Task) -> bool:
        if task["status"] == "completed":
            return True
        tally.bad_statuses[str(task["status"])] += 1
        return False
