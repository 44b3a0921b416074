"""A user's own agent code, run by the xpander-sdk as a worker (`@on_task`, docs/xpander-sdk.md).

Started by the compatibility tests as a separate process with XPANDER_* pointing at taskloom.
It answers `handled by <pid>: <text>`; a text starting with `nap N` first sleeps N seconds,
so that a test can kill the worker while it holds the task.
"""

from __future__ import annotations

import asyncio
import os

from xpander_sdk import Task, on_task


@on_task
async def handle(task: Task) -> Task:
    text = task.input.text or ""
    words = text.split()
    if len(words) >= 2 and words[0] == "nap":
        await asyncio.sleep(float(words[1]))
    task.result = f"handled by {os.getpid()}: {text}"
    return task
