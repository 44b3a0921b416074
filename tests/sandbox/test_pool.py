"""SandboxPool against real interpreters, in both bwrap and plain-subprocess modes.

Nothing here skips without bubblewrap: a machine where it cannot run fails the bwrap cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from taskloom.config import SandboxConfig
from taskloom.errors import CodeError, NodeTimeout, SandboxUnavailable
from taskloom.sandbox import SandboxPool
from tests.sandbox.processes import descendants, wait_exited

MODES = ["bwrap", "subprocess"]
BASE = SandboxConfig(
    pool_size=2,
    max_runs_per_interpreter=500,
    memory_limit_mb=256,
    cpu_limit_s=10,
    output_limit_bytes=65_536,
    input_limit_bytes=65_536,
    code_limit_bytes=16_384,
)
UPPER = "def main(input):\n    return input.upper()\n"
LOOP = "def main(input):\n    while True:\n        pass\n"


@contextlib.asynccontextmanager
async def started(mode: str, **overrides: Any) -> AsyncIterator[SandboxPool]:
    config = dataclasses.replace(BASE, mode=mode, **overrides)
    pool = SandboxPool(config)
    async with pool:
        assert pool.mode == mode
        yield pool
    assert pool._total == 0, "slot accounting leaked"
    assert not pool._live


@pytest.fixture(params=MODES)
async def pool(request: pytest.FixtureRequest) -> AsyncIterator[SandboxPool]:
    async with started(request.param) as pool:
        yield pool


async def run(pool: SandboxPool, code: str, input: object = None, **kw: Any) -> object:
    kw.setdefault("org_id", "org-a")
    kw.setdefault("timeout_s", 10.0)
    return await pool.run(code=code, input=input, **kw)


def _exists(path: str) -> bool:
    return Path(path).exists()


# -- results and user errors -----------------------------------------------------------------


async def test_returns_upper_cased_string(pool: SandboxPool) -> None:
    assert await run(pool, UPPER, "hello") == "HELLO"


async def test_returns_dict(pool: SandboxPool) -> None:
    code = "def main(input):\n    return {'n': input['n'] + 1, 'items': [1, 'two', None, True]}\n"
    assert await run(pool, code, {"n": 41}) == {"n": 42, "items": [1, "two", None, True]}


async def test_raising_code_is_a_code_error_with_the_exception_text(pool: SandboxPool) -> None:
    with pytest.raises(CodeError, match=r"^ZeroDivisionError: division by zero$"):
        await run(pool, "def main(input):\n    return 1 / 0\n")
    assert await run(pool, UPPER, "still fine") == "STILL FINE"


async def test_syntax_error(pool: SandboxPool) -> None:
    with pytest.raises(CodeError, match=r"^SyntaxError"):
        await run(pool, "def main(input)\n    return 1\n")


async def test_missing_main(pool: SandboxPool) -> None:
    with pytest.raises(CodeError, match="main"):
        await run(pool, "def handler(input):\n    return 1\n")


@pytest.mark.parametrize("value", ["{1, 2}", "float('nan')", "object()"])
async def test_non_json_result(pool: SandboxPool, value: str) -> None:
    with pytest.raises(CodeError, match="not JSON"):
        await run(pool, f"def main(input):\n    return {value}\n")


async def test_print_does_not_corrupt_the_protocol(pool: SandboxPool) -> None:
    code = (
        "import os, sys\n"
        "def main(input):\n"
        "    for _ in range(10_000):\n"
        "        print('noise' * 20)\n"
        "    sys.stderr.write('more noise')\n"
        "    os.write(1, b'raw fd noise')\n"
        "    os.write(2, b'raw fd noise')\n"
        "    return input\n"
    )
    assert await run(pool, code, [1, 2]) == [1, 2]


async def test_globals_are_fresh_for_every_run(pool: SandboxPool) -> None:
    code = "seen = []\ndef main(input):\n    seen.append(input)\n    return len(seen)\n"
    assert [await run(pool, code, i) for i in range(3)] == [1, 1, 1]


# -- limits ----------------------------------------------------------------------------------


async def test_infinite_loop_times_out_and_the_pool_still_serves(pool: SandboxPool) -> None:
    with pytest.raises(NodeTimeout):
        await run(pool, LOOP, timeout_s=0.3)
    assert await run(pool, UPPER, "next") == "NEXT"


async def test_memory_bomb_is_a_code_error(pool: SandboxPool) -> None:
    code = (
        "def main(input):\n"
        "    hog = []\n"
        "    while True:\n"
        "        hog.append(bytearray(10_000_000))\n"
    )
    with pytest.raises(CodeError, match="MemoryError"):
        await run(pool, code, timeout_s=30)
    assert await run(pool, UPPER, "after") == "AFTER"


async def test_huge_output_is_a_code_error(pool: SandboxPool) -> None:
    with pytest.raises(CodeError, match="output too large"):
        await run(pool, "def main(input):\n    return 'x' * 100_000\n")
    assert await run(pool, UPPER, "ok") == "OK"


async def test_forged_oversize_frame_kills_the_interpreter(pool: SandboxPool) -> None:
    # Bypasses the child's own check by writing a frame header straight to the protocol pipe.
    code = (
        "import os, struct\n"
        "def main(input):\n"
        "    for fd in range(3, 10):\n"
        "        try:\n"
        "            os.write(fd, struct.pack('>I', 1_000_000_000) + b'x' * 1000)\n"
        "        except OSError:\n"
        "            pass\n"
        "    while True:\n"
        "        pass\n"
    )
    with pytest.raises(CodeError, match="output too large"):
        await run(pool, code)
    assert await run(pool, UPPER, "ok") == "OK"


async def test_input_and_code_limits(pool: SandboxPool) -> None:
    with pytest.raises(CodeError, match="input too large"):
        await run(pool, UPPER, "x" * 70_000)
    with pytest.raises(CodeError, match="code too large"):
        await run(pool, UPPER + "#" * 20_000, "x")
    with pytest.raises(CodeError, match="input is not JSON"):
        await run(pool, UPPER, {1, 2})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("import os\n    os._exit(3)", "exited with code 3"),
        ("import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)", "SIGKILL"),
        ("raise SystemExit(4)", "SystemExit: 4"),
    ],
)
async def test_interpreter_death_is_a_code_error(pool: SandboxPool, body: str, reason: str) -> None:
    with pytest.raises(CodeError, match=reason):
        await run(pool, f"def main(input):\n    {body}\n")
    assert await run(pool, UPPER, "alive") == "ALIVE"


@pytest.mark.parametrize("mode", MODES)
async def test_cpu_limit_kills_the_interpreter(mode: str) -> None:
    async with started(mode, cpu_limit_s=1) as pool:
        with pytest.raises(CodeError, match="CPU time limit"):
            await run(pool, LOOP, timeout_s=30)
        assert await run(pool, UPPER, "next") == "NEXT"


@pytest.mark.parametrize("mode", MODES)
async def test_interpreters_are_recycled_after_max_runs(mode: str) -> None:
    code = (
        "import builtins\n"
        "def main(input):\n"
        "    builtins.runs = getattr(builtins, 'runs', 0) + 1\n"
        "    return builtins.runs\n"
    )
    async with started(mode, max_runs_per_interpreter=3) as pool:
        assert [await run(pool, code) for _ in range(7)] == [1, 2, 3, 1, 2, 3, 1]


# -- isolation -------------------------------------------------------------------------------


async def test_orgs_never_share_an_interpreter(pool: SandboxPool) -> None:
    poison = "import builtins\ndef main(input):\n    builtins.X = 1\n    return 'set'\n"
    probe = "import builtins\ndef main(input):\n    return hasattr(builtins, 'X')\n"
    assert await run(pool, poison, org_id="org-a") == "set"
    assert await run(pool, probe, org_id="org-a") is True  # same warm interpreter
    for _ in range(5):
        assert await run(pool, probe, org_id="org-b") is False


@pytest.mark.parametrize("mode", MODES)
async def test_network(mode: str) -> None:
    hits: list[int] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(1)
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code = (
        "import socket\n"
        "def main(port):\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
        "    except OSError as exc:\n"
        "        return 'blocked: ' + type(exc).__name__\n"
        "    return 'connected'\n"
    )
    async with server, started(mode) as pool:
        result = await run(pool, code, port)
    if mode == "bwrap":
        assert isinstance(result, str)
        assert result.startswith("blocked")
        assert hits == []
    else:  # the control: the same code does reach the server without a sandbox
        assert result == "connected"


async def test_bwrap_hides_the_filesystem_outside_the_binds() -> None:
    secret = Path(__file__).with_name(f"secret-{uuid.uuid4().hex}.txt")
    secret.write_text("server secret")
    try:
        code = (
            "import os\n"
            "def main(paths):\n"
            "    out = {}\n"
            "    for p in paths:\n"
            "        try:\n"
            "            with open(p) as f:\n"
            "                out[p] = f.read()\n"
            "        except OSError as exc:\n"
            "            out[p] = type(exc).__name__\n"
            "    out['home'] = os.path.exists(os.path.expanduser('~root/.bashrc'))\n"
            "    return out\n"
        )
        async with started("bwrap") as pool:
            result = await run(pool, code, [str(secret), "/etc/passwd"])
    finally:
        secret.unlink()
    assert result == {
        str(secret): "FileNotFoundError",
        "/etc/passwd": "FileNotFoundError",
        "home": False,
    }


async def test_bwrap_writes_only_to_tmp() -> None:
    code = (
        "def main(paths):\n"
        "    out = {}\n"
        "    for p in paths:\n"
        "        try:\n"
        "            with open(p, 'w') as f:\n"
        "                f.write('x')\n"
        "            out[p] = 'written'\n"
        "        except OSError as exc:\n"
        "            out[p] = type(exc).__name__\n"
        "    return out\n"
    )
    repo_file = str(Path(__file__).with_name("should-not-exist.txt"))
    paths = ["/tmp/ok.txt", "/evil.txt", "/usr/evil.txt", repo_file]
    async with started("bwrap") as pool:
        result = await run(pool, code, paths)
    assert isinstance(result, dict)
    assert result.pop("/tmp/ok.txt") == "written"
    assert "written" not in result.values()
    assert not _exists(repo_file)


async def test_auto_mode_picks_bwrap_when_it_works(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with SandboxPool(dataclasses.replace(BASE, mode="auto")) as pool:
        assert pool.mode == "bwrap"
    assert "bwrap" in caplog.text


async def test_subprocess_mode_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    async with started("subprocess"):
        pass
    assert any(r.levelno == logging.WARNING and "NOT isolated" in r.message for r in caplog.records)


async def test_run_outside_the_context_is_unavailable() -> None:
    pool = SandboxPool(BASE)
    with pytest.raises(SandboxUnavailable):
        await run(pool, UPPER, "x")


# -- concurrency and cancellation ------------------------------------------------------------


async def test_cancelling_run_kills_its_interpreter(pool: SandboxPool) -> None:
    assert await run(pool, UPPER, "warm", org_id="org-c") == "WARM"
    owned = [i for i in pool._live if i.org == "org-c"]
    assert len(owned) == 1
    pids = {owned[0].proc.pid} | descendants(owned[0].proc.pid)
    task = asyncio.create_task(run(pool, LOOP, org_id="org-c", timeout_s=60))
    await asyncio.sleep(0)  # noqa: TID251  # one turn: the run is now waiting on the interpreter's reply
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_exited(pids, timeout_s=5)
    assert await run(pool, UPPER, "again", org_id="org-c") == "AGAIN"


async def test_many_concurrent_runs(pool: SandboxPool) -> None:
    code = "def main(input):\n    return [input['org'], input['i'] * 2]\n"
    orgs = [f"org-{n}" for n in range(12)]  # more orgs than interpreters: forces eviction
    calls = [
        pool.run(
            org_id=orgs[i % len(orgs)], code=code, input={"org": orgs[i % 12], "i": i}, timeout_s=30
        )
        for i in range(200)
    ]
    results = await asyncio.gather(*calls)
    assert results == [[orgs[i % 12], i * 2] for i in range(200)]


async def test_errors_and_timeouts_under_concurrency(pool: SandboxPool) -> None:
    async def one(i: int) -> str:
        code = [UPPER, "def main(input):\n    return 1 / 0\n", LOOP][i % 3]
        try:
            await pool.run(org_id=f"org-{i % 4}", code=code, input="x", timeout_s=0.5)
        except CodeError:
            return "error"
        except NodeTimeout:
            return "timeout"
        return "ok"

    results = await asyncio.gather(*(one(i) for i in range(30)))
    assert results == [["ok", "error", "timeout"][i % 3] for i in range(30)]


@pytest.mark.parametrize("mode", MODES)
async def test_cancellations_while_queued_do_not_leak_slots(mode: str) -> None:
    code = "def main(input):\n    return sum(range(20_000)) + input\n"
    async with started(mode, pool_size=1) as pool:  # 4 interpreters for 10 orgs
        tasks = [asyncio.create_task(run(pool, code, i, org_id=f"org-{i % 10}")) for i in range(60)]
        await asyncio.sleep(0)  # noqa: TID251  # one turn: every run is queued
        for task in tasks[::3]:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for i, result in enumerate(results):
            if i % 3:
                assert result == sum(range(20_000)) + i
        again = [run(pool, code, i, org_id=f"org-{i % 7}") for i in range(40)]
        async with asyncio.timeout(30):
            assert await asyncio.gather(*again) == [sum(range(20_000)) + i for i in range(40)]


@pytest.mark.parametrize("mode", MODES)
async def test_a_busy_org_does_not_starve_another(mode: str) -> None:
    busy = "def main(input):\n    return sum(range(300_000))\n"
    done: list[str] = []
    warmed = asyncio.Event()

    async def worker(org: str, runs: int) -> None:
        for _ in range(runs):
            await run(pool, busy, org_id=org)
            done.append(org)
            if len(done) >= 40:
                warmed.set()

    async with started(mode, pool_size=1) as pool:  # 4 interpreters, all kept busy by org-a
        a_load = [asyncio.create_task(worker("org-a", 20)) for _ in range(16)]
        await warmed.wait()  # org-a's load is established
        await asyncio.gather(worker("org-b", 1), *a_load)
    assert done.index("org-b") < 300  # without the bypass bound it is last (320)


async def test_idle_org_interpreters_are_retired_and_the_spares_stay() -> None:
    async with started("subprocess", pool_size=1, idle_s=60.0) as pool:
        gate = "import time\ndef main(input):\n    time.sleep(input)\n    return input\n"
        # four runs at once: the spare and three interpreters started for them
        assert await asyncio.gather(*(run(pool, gate, 0.2) for _ in range(4))) == [0.2] * 4
        idle = sum(len(interps) for interps in pool._idle.values())
        assert idle >= 3
        now = time.monotonic()
        assert pool.retire_idle(now=now) == 0, "none has been idle for idle_s yet"
        assert pool.retire_idle(now=now + 60.0) == idle
        assert not pool._idle
        assert pool._total == len(pool._spares) + pool._starting_spares <= 1
        assert await run(pool, UPPER, "again") == "AGAIN"


async def test_idle_org_interpreters_past_the_kept_few_are_retired_sooner() -> None:
    async with started(
        "subprocess", pool_size=1, idle_s=60.0, idle_keep=2, idle_surplus_s=5.0
    ) as pool:
        gate = "import time\ndef main(input):\n    time.sleep(input)\n    return input\n"
        assert await asyncio.gather(*(run(pool, gate, 0.2) for _ in range(5))) == [0.2] * 5
        idle = len(pool._idle_lru)
        assert idle >= 4
        newest = list(pool._idle_lru)[-2:]
        now = time.monotonic()
        assert pool.retire_idle(now=now) == 0
        assert pool.retire_idle(now=now + 6.0) == idle - 2, "the surplus goes after 5 s"
        assert list(pool._idle_lru) == newest, "the most recently used stay"
        assert pool.retire_idle(now=now + 30.0) == 0
        assert pool.retire_idle(now=now + 61.0) == 2
        assert await run(pool, UPPER, "again") == "AGAIN"


# -- batches ---------------------------------------------------------------------------------

# which interpreter ran it: a token kept in builtins, which outlive a run (pids do not tell
# under bubblewrap, where every interpreter is pid 2 of its own namespace)
WHO = (
    "import builtins, os\n"
    "def who():\n"
    "    builtins.who = getattr(builtins, 'who', None) or os.urandom(8).hex()\n"
    "    return builtins.who\n"
)

# quick enough to batch, even on a loaded machine; the slow code below sleeps far longer
QUICK_MS = 100.0


@pytest.fixture(params=MODES)
async def batching(request: pytest.FixtureRequest) -> AsyncIterator[SandboxPool]:
    async with started(request.param, batch_run_ms=QUICK_MS) as pool:
        yield pool


async def test_quick_runs_arriving_together_share_one_interpreter(batching: SandboxPool) -> None:
    code = WHO + "def main(input):\n    return [input, who()]\n"
    assert (await run(batching, code, 0))[0] == 0  # type: ignore[index]
    results = await asyncio.gather(*(run(batching, code, i) for i in range(20)))
    assert [r[0] for r in results] == list(range(20))  # type: ignore[index]
    assert len({r[1] for r in results}) == 1  # type: ignore[index]


async def test_new_code_arriving_together_runs_once_alone_then_as_a_batch(
    batching: SandboxPool,
) -> None:
    code = WHO + "def main(input):\n    return who()\n"
    whos = await asyncio.gather(*(run(batching, code, i) for i in range(10)))
    # the first run alone, the nine others together once it said the code is quick; without
    # that, each took an interpreter of its own (as many as the pool may start)
    assert len(set(whos)) <= 2


async def test_slow_code_is_never_batched(batching: SandboxPool) -> None:
    slow = WHO + "import time\ndef main(input):\n    time.sleep(0.3)\n    return who()\n"
    await run(batching, slow, None)
    pids = await asyncio.gather(*(run(batching, slow, None) for _ in range(3)))
    assert len(set(pids)) == 3


async def test_one_slow_run_does_not_unbatch_quick_code_three_do(batching: SandboxPool) -> None:
    # one run slowed down (a busy machine, one odd input) must not send the next runs of a
    # quick code to an interpreter each; a code slow for its last three runs is slow
    code = WHO + "import time\ndef main(input):\n    time.sleep(input)\n    return who()\n"
    await run(batching, code, 0)
    await run(batching, code, 0.3)
    assert len(set(await asyncio.gather(*(run(batching, code, 0) for _ in range(6))))) == 1
    for _ in range(3):
        await run(batching, code, 0.3)
    assert len(set(await asyncio.gather(*(run(batching, code, 0.3) for _ in range(3))))) == 3


async def test_a_failing_run_in_a_batch_fails_alone(batching: SandboxPool) -> None:
    code = "def main(input):\n    return 10 // input\n"
    assert await run(batching, code, 5) == 2
    results = await asyncio.gather(
        *(run(batching, code, i) for i in (1, 0, 2)), return_exceptions=True
    )
    assert (results[0], results[2]) == (10, 5)
    assert isinstance(results[1], CodeError)


@pytest.mark.parametrize(
    "body", ["import os\n    os._exit(3)", "raise SystemExit(4)", "while True:\n        pass"]
)
async def test_a_run_that_costs_its_batch_the_interpreter_leaves_the_others_served(
    batching: SandboxPool, body: str
) -> None:
    code = (
        "def main(input):\n"
        "    if input == 'die':\n"
        f"        {body.replace(chr(10), chr(10) + '    ')}\n"
        "    return input\n"
    )
    assert await run(batching, code, "warm") == "warm"
    results = await asyncio.gather(
        *(run(batching, code, value, timeout_s=1.0) for value in ("a", "die", "b", "c")),
        return_exceptions=True,
    )
    assert [results[0], *results[2:]] == ["a", "b", "c"]
    assert isinstance(results[1], CodeError | NodeTimeout)


async def test_cancelling_a_batched_run_kills_the_interpreter_and_serves_the_rest(
    batching: SandboxPool,
) -> None:
    code = WHO + "def main(input):\n    while input == 'hang':\n        pass\n    return who()\n"
    warm = await run(batching, code, "warm")
    runs = [asyncio.create_task(run(batching, code, value)) for value in ("a", "hang", "b")]
    first = await runs[0]  # the batch is in flight, on 'hang'
    runs[1].cancel()
    with pytest.raises(asyncio.CancelledError):
        await runs[1]
    # the interpreter serving the batch was killed; 'b' ran in another one
    assert first == warm
    assert await runs[2] not in (warm, None)


async def next_turn() -> None:
    """Let the event loop run the callbacks already scheduled (one turn), then go on."""
    loop = asyncio.get_running_loop()
    turn = loop.create_future()
    loop.call_soon(turn.set_result, None)
    await turn


@pytest.mark.parametrize("mode", MODES)
async def test_quick_runs_arriving_one_by_one_share_the_orgs_lanes(mode: str) -> None:
    # a batch in flight holds its lane; the runs arriving meanwhile go as the next batch on
    # a lane that came back, rather than each taking a spare or a new interpreter
    async with started(mode, batch_run_ms=QUICK_MS, batch_lanes=2, batch_wait_ms=60_000) as pool:
        code = WHO + "import time\ndef main(input):\n    time.sleep(0.005)\n    return who()\n"
        await run(pool, code)  # now known to be quick
        runs = []
        for i in range(30):
            runs.append(asyncio.create_task(run(pool, code, i)))
            await next_turn()  # each run arrives on a turn of its own
        assert len(set(await asyncio.gather(*runs))) <= 2


@pytest.mark.parametrize("mode", MODES)
async def test_more_quick_runs_than_the_lanes_batch_wait_for_a_lane(mode: str) -> None:
    # a fan-out wider than batch_size x batch_lanes: the batches past the lanes' go on a
    # lane that came back, rather than each on an interpreter of its own
    async with started(mode, batch_run_ms=QUICK_MS, batch_size=4, batch_lanes=2) as pool:
        code = WHO + "def main(input):\n    return [input, who()]\n"
        await run(pool, code, 0)
        results = await asyncio.gather(*(run(pool, code, i) for i in range(40)))
        assert [r[0] for r in results] == list(range(40))  # type: ignore[index]
        assert len({r[1] for r in results}) <= 2  # type: ignore[index]


@pytest.mark.parametrize("mode", MODES)
async def test_a_lane_stuck_on_a_slow_run_holds_the_next_batch_back_no_longer_than_the_wait(
    mode: str,
) -> None:
    async with started(mode, batch_run_ms=QUICK_MS, batch_lanes=1, batch_wait_ms=50.0) as pool:
        code = (
            WHO + "def main(input):\n    while input == 'hang':\n        pass\n    return who()\n"
        )
        warm = await run(pool, code, "warm")
        hang = asyncio.create_task(run(pool, code, "hang", timeout_s=60.0))
        while not pool._lanes:  # the hang's batch is sent
            await next_turn()
        # the only lane is busy until the hang's timeout: this run goes on another interpreter
        assert await run(pool, code, "next") != warm
        assert not hang.done()
        hang.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hang
