"""``/reward`` over HTTP vs the core in-process, side by side, on loopback.

One workload — batches of ``--batch`` completions (default 256) against xLAM-style labels
(each row carries its own tools and answers as JSON strings, as ``toolgrade prepare`` writes
them), with a realistic mix of right, partly right, malformed and no-call completions — is
rewarded two ways for ``--duration`` seconds each:

* **in-process** — :func:`service.core.rewards.compute_rewards` on the decoded batch in this
  process, one thread (what a trainer calling the core directly gets);
* **HTTP** — ``toolgrade serve --no-model`` under uvicorn (``--workers``) and ``--concurrency``
  asyncio clients posting the batch as JSON to ``/reward`` on loopback, each waiting for its
  answer before sending the next. Latency is per request (one batch).

The two sides alternate in ``--rounds`` slices, so other load on the machine weighs on both.

Prints rewards/s for both, HTTP p50/p99 latency, and the ratio HTTP / in-process (target:
≥ 50 % at batch 256). Both sides share this machine's cores with each other and the client.

At ``--batch 1`` (one sample per request, as OpenRLHF sends) the targets are >= 1,000
rewards/s with p99 <= 50 ms (``--concurrency 16 --workers 2``).

``--memory N`` instead sends one-sample requests, each with a tool schema the server has not
seen (every tool renamed and given one extra optional parameter, as GRPO over xLAM-style rows
does), N for each worker process (N x ``--workers`` in all), and prints the resident memory of
every server process after a warm-up, halfway and at the end. Target: the whole server (all its
processes together) grows <= 16 MiB over the second half.

Why N per worker: the memo tables are bounded per process (4,096 entries each, the largest
keyed per request, so a process's caches are full after ~4,100 requests, ~40 MiB), and every
worker fills its own. With N in all, two workers see ~N/2 each and half of that before the
halfway reading, so the second half still held the filling of their caches: the growth measured
warm-up, not a leak. With N each, every worker is as far into its life at each reading as one
process serving N requests is, which is what the target describes. The kernel does not split
connections evenly between workers: the per-process rows show whether each had filled its
caches by halfway (its growth flat after).

Usage::

    python -m bench.http_reward [--duration 10] [--batch 256] [--concurrency 4] [--workers 1]
                                [--rounds 5]
    python -m bench.http_reward --batch 1 --concurrency 16 --workers 2
    python -m bench.http_reward --memory 16000 [--concurrency 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from service.core.rewards import compute_rewards

REPO_ROOT = Path(__file__).resolve().parents[1]

TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_weather",
        "description": "Current weather.",
        "parameters": {
            "city": {"type": "str", "description": "City name."},
            "unit": {"type": "str, optional", "default": "c"},
        },
    },
    {
        "name": "search_flights",
        "description": "Find flights.",
        "parameters": {
            "origin": {"type": "str"},
            "destination": {"type": "str"},
            "date": {"type": "str"},
            "max_stops": {"type": "int, optional", "default": 1},
        },
    },
    {
        "name": "convert_currency",
        "description": "Convert an amount.",
        "parameters": {
            "amount": {"type": "float"},
            "from_currency": {"type": "str"},
            "to_currency": {"type": "str"},
        },
    },
    {
        "name": "top_k",
        "description": "Largest k numbers.",
        "parameters": {"numbers": {"type": "List[int]"}, "k": {"type": "int"}},
    },
]
CITIES = ["Oslo", "Lima", "Hanoi", "Quito", "Perth", "Dakar", "Riga", "Cusco"]


def _answer(rng: random.Random) -> list[dict[str, Any]]:
    kind = rng.randrange(4)
    if kind == 0:
        return [{"name": "get_weather", "arguments": {"city": rng.choice(CITIES)}}]
    if kind == 1:
        return [
            {
                "name": "search_flights",
                "arguments": {
                    "origin": rng.choice(CITIES),
                    "destination": rng.choice(CITIES),
                    "date": f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                },
            }
        ]
    if kind == 2:
        return [
            {
                "name": "convert_currency",
                "arguments": {
                    "amount": round(rng.uniform(1, 500), 2),
                    "from_currency": "EUR",
                    "to_currency": "NOK",
                },
            },
            {"name": "get_weather", "arguments": {"city": rng.choice(CITIES)}},
        ]
    return [
        {
            "name": "top_k",
            "arguments": {"numbers": [rng.randint(0, 99) for _ in range(6)], "k": 3},
        }
    ]


def _completion(answer: list[dict[str, Any]], rng: random.Random) -> str:
    """What a policy mid-training writes: mostly well-formed calls, some wrong or broken."""
    roll = rng.random()
    calls = json.loads(json.dumps(answer))
    if roll < 0.35:  # right
        pass
    elif roll < 0.6:  # a wrong value
        first = calls[0]["arguments"]
        key = rng.choice(sorted(first))
        first[key] = "Nowhere" if isinstance(first[key], str) else 0
    elif roll < 0.7:  # a missing required argument
        calls[0]["arguments"].pop(sorted(calls[0]["arguments"])[0])
    elif roll < 0.8:  # plain prose
        return "I think the answer is probably in the documentation."
    elif roll < 0.9:  # truncated output
        text = "".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>" for c in calls)
        return text[: len(text) // 2]
    blocks = "".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>" for c in calls)
    return f"<think>\nThe user wants data; I will call the tool.\n</think>\n\n{blocks}"


def build_batch(size: int, seed: int = 0) -> tuple[list[str], list[dict[str, str]]]:
    rng = random.Random(seed)
    tools_json = json.dumps(TOOLS)
    completions, labels = [], []
    for _ in range(size):
        if rng.random() < 0.08:  # irrelevance rows: no call expected
            answer: list[dict[str, Any]] = []
            completions.append(
                rng.choice(["No tool fits that request.", _completion(_answer(rng), rng)])
            )
        else:
            answer = _answer(rng)
            completions.append(_completion(answer, rng))
        labels.append({"answers": json.dumps(answer), "tools": tools_json})
    return completions, labels


def in_process_slice(
    completions: list[str], labels: list[Any], duration: float
) -> tuple[int, float]:
    """Rewards computed in-process within ``duration`` seconds, and the seconds taken."""
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < duration:
        compute_rewards(completions, labels)
        done += len(completions)
    return done, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(port: int, workers: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TOOLGRADE_API_KEY": "", "TOOLGRADE_LOG_LEVEL": "warning"}
    env.pop("TOOLGRADE_API_KEY")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--no-model", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers)],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(process)
            raise RuntimeError(f"server did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def client_session(concurrency: int) -> aiohttp.ClientSession:
    """The load generator's HTTP client: ``concurrency`` kept-alive connections.

    aiohttp, not httpx: the client shares the machine with the server, and httpx's
    ``AsyncClient`` spends ~2.4 ms of CPU per small request on this machine kind (aiohttp
    ~0.25 ms), so with httpx the bench measured its own client (~400 requests/s) rather than
    the server. The client's CPU per request is printed next to the server's.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=120),
        headers={"Content-Type": "application/json"},
    )


async def post(session: aiohttp.ClientSession, url: str, body: bytes) -> bytes:
    """POST ``body``; the response body, or ``aiohttp.ClientResponseError`` for a 4xx/5xx."""
    async with session.post(url, data=body) as response:
        answer = await response.read()
        response.raise_for_status()
        return answer


async def http_slice(
    session: aiohttp.ClientSession, url: str, body: bytes, concurrency: int, duration: float
) -> tuple[list[float], float]:
    """Latencies (s) of the requests ``concurrency`` clients complete in ``duration`` seconds,
    each sending its next batch once the previous one is answered; and the seconds taken."""
    latencies: list[float] = []
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await post(session, url, body)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


@dataclass
class HttpRun:
    """What the alternating slices measured."""

    local_rate: float  # in-process rewards/s
    http_rate: float  # HTTP rewards/s
    latencies: list[float]  # HTTP, seconds per request
    server_cpu_s: float  # CPU the server's processes used during the HTTP slices
    client_cpu_s: float  # CPU this process (the HTTP client) used during the HTTP slices


async def compare(
    url: str,
    server_pid: int,
    completions: list[str],
    labels: list[Any],
    expected: list[float],
    args: argparse.Namespace,
) -> HttpRun:
    """Alternate in-process and HTTP slices (so load from other processes hits both alike)."""
    body = json.dumps({"completions": completions, "labels": labels}).encode()
    local_rewards, local_seconds = 0, 0.0
    latencies: list[float] = []
    http_seconds = server_cpu = client_cpu = 0.0
    async with client_session(args.concurrency) as client:
        if json.loads(await post(client, url, body))["rewards"] != expected:
            raise AssertionError("HTTP rewards differ from the in-process rewards")
        compute_rewards(completions, labels)  # warm the caches, as a running service has
        # Let every worker see the body once (the caches of a running service are warm).
        await http_slice(client, url, body, args.concurrency, 0.5)
        slice_s = args.duration / args.rounds
        for _ in range(args.rounds):
            done, seconds = in_process_slice(completions, labels, slice_s)
            local_rewards, local_seconds = local_rewards + done, local_seconds + seconds
            server_before, client_before = server_cpu_seconds(server_pid), time.process_time()
            answered, seconds = await http_slice(client, url, body, args.concurrency, slice_s)
            server_cpu += server_cpu_seconds(server_pid) - server_before
            client_cpu += time.process_time() - client_before
            latencies += answered
            http_seconds += seconds
    return HttpRun(
        local_rate=local_rewards / local_seconds,
        http_rate=len(latencies) * len(completions) / http_seconds,
        latencies=latencies,
        server_cpu_s=server_cpu,
        client_cpu_s=client_cpu,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per side.")
    parser.add_argument("--batch", type=int, default=256, help="Completions per request.")
    parser.add_argument("--concurrency", type=int, default=4, help="Concurrent HTTP clients.")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes.")
    parser.add_argument("--rounds", type=int, default=5, help="Alternations of the two sides.")
    parser.add_argument(
        "--memory",
        type=int,
        default=0,
        help="Send N requests per worker, each with new schemas; print the server's RSS.",
    )
    args = parser.parse_args()
    print(f"machine load (1/5/15 min): {machine_load()}")
    if args.memory:
        memory_growth(args)
        return

    completions, labels = build_batch(args.batch)
    body_kib = len(json.dumps({"completions": completions, "labels": labels})) / 1024
    expected = [b.reward for b in compute_rewards(completions, labels)]
    print(
        f"batch {args.batch} ({body_kib:.0f} KiB), {args.duration:.0f} s per side in "
        f"{args.rounds} alternating rounds, {os.cpu_count()} CPUs, server workers "
        f"{args.workers}, clients {args.concurrency}"
    )
    print(f"mean reward of the batch: {statistics.mean(expected):.3f}")

    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="toolgrade-bench-", suffix=".log")[1])
    server = start_server(port, args.workers, log_path)
    try:
        url = f"http://127.0.0.1:{port}/reward"
        run = asyncio.run(compare(url, server.pid, completions, labels, expected, args))
    finally:
        stop_server(server)

    local, remote, latencies = run.local_rate, run.http_rate, run.latencies
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    print()
    print(f"{'path':<28}{'rewards/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'in-process compute_rewards':<28}{local:>12,.0f}{'':>10}{'':>10}")
    print(f"{'HTTP /reward':<28}{remote:>12,.0f}{p50 * 1000:>10.1f}{p99 * 1000:>10.1f}")
    print()
    # CPU time per request does not depend on what else shares the cores: the figure to compare
    # across runs and machines. Wall-clock rates above do.
    requests = len(latencies)
    print(
        f"CPU per request: server {run.server_cpu_s / requests * 1e6:,.0f} µs "
        f"(all its processes), client {run.client_cpu_s / requests * 1e6:,.0f} µs; "
        f"in-process {1e6 / local * args.batch:,.0f} µs per request of {args.batch}"
    )
    ratio = remote / local
    verdict = "meets" if ratio >= 0.5 else "MISSES"
    print(f"HTTP / in-process = {ratio:.0%} ({verdict} the >= 50% target); {requests} requests")
    if args.batch == 1:
        met = remote >= 1000 and p99 * 1000 <= 50
        print(
            f"batch 1: {remote:,.0f} rewards/s, p99 {p99 * 1000:.1f} ms "
            f"({'meets' if met else 'MISSES'} >= 1,000/s with p99 <= 50 ms)"
        )
    print(f"machine load after (1/5/15 min): {machine_load()}")


def machine_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} CPUs"


def new_schema_body(index: int) -> bytes:
    """One sample whose tools no earlier request had: renamed, one extra optional parameter."""
    completions, labels = build_batch(1, seed=index)
    tools = json.loads(labels[0]["tools"])
    answers = json.loads(labels[0]["answers"])
    for tool in tools:
        tool["name"] = f"{tool['name']}_{index}"
        tool["parameters"][f"note_{index}"] = {"type": "str, optional"}
    for answer in answers:
        answer["name"] = f"{answer['name']}_{index}"
        completions[0] = completions[0].replace(
            f'"name": "{answer["name"].rsplit("_", 1)[0]}"', f'"name": "{answer["name"]}"'
        )
    label = {"answers": json.dumps(answers), "tools": json.dumps(tools)}
    return json.dumps({"completions": completions, "labels": [label]}).encode()


def process_tree(root_pid: int) -> list[int]:
    """A process and all its descendants (Linux /proc): the server and its uvicorn workers."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [root_pid]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += children.get(pid, [])
    return tree


def server_rss_mib(root_pid: int) -> dict[int, float]:
    """Resident memory of a process and of each of its descendants, in MiB, by process id."""
    resident: dict[int, float] = {}
    for pid in process_tree(root_pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                resident[pid] = int(line.split()[1]) / 1024
    return resident


def server_cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) a process and all its descendants have used so far."""
    ticks = 0
    for pid in process_tree(root_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_growth(args: argparse.Namespace) -> None:
    total, warm_up = args.memory * args.workers, 200
    print(
        f"{total} one-sample /reward requests ({args.memory} per worker), every one with new "
        f"tool schemas; server workers {args.workers}, clients {args.concurrency}"
    )
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="toolgrade-bench-", suffix=".log")[1])
    server = start_server(port, args.workers, log_path)
    url = f"http://127.0.0.1:{port}/reward"
    try:
        start, middle, end = asyncio.run(_send_new_schemas(url, server.pid, total, warm_up, args))
    finally:
        stop_server(server)
    print(
        f"{'process':<18}{'after warm-up':>15}{f'after {total // 2}':>15}{f'after {total}':>15}"
        f"{'2nd half':>11}  (MiB)"
    )
    for pid in sorted(end, key=lambda pid: (pid != server.pid, pid)):
        role = "main" if pid == server.pid else "child"  # the workers (and a helper)
        before, half, after = start.get(pid, 0.0), middle.get(pid, 0.0), end[pid]
        print(
            f"{f'{role} {pid}':<18}{before:>15.1f}{half:>15.1f}{after:>15.1f}{after - half:>+11.1f}"
        )
    before, half, after = (sum(reading.values()) for reading in (start, middle, end))
    print(f"{'server':<18}{before:>15.1f}{half:>15.1f}{after:>15.1f}{after - half:>+11.1f}")
    growth = after - half
    verdict = "meets" if growth <= 16 else "MISSES"
    print(
        f"server growth over the second half: {growth:+.1f} MiB ({verdict} the <= 16 MiB target); "
        f"first half {half - before:+.1f} MiB (the bounded caches filling)"
    )


async def _send_new_schemas(
    url: str, server_pid: int, total: int, warm_up: int, args: argparse.Namespace
) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
    async with client_session(args.concurrency) as client:

        async def send_range(first: int, last: int) -> None:
            queue = iter(range(first, last))

            async def worker() -> None:
                for index in queue:
                    body = new_schema_body(index)
                    for attempt in range(3):
                        # On a loaded machine the client can sit past the server's keep-alive
                        # timeout and reuse a connection the server just closed: send again.
                        try:
                            await post(client, url, body)
                            break
                        except aiohttp.ClientConnectionError:
                            if attempt == 2:
                                raise

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))

        await send_range(-warm_up, 0)
        start = server_rss_mib(server_pid)
        await send_range(0, total // 2)
        middle = server_rss_mib(server_pid)
        await send_range(total // 2, total)
        end = server_rss_mib(server_pid)
    return start, middle, end


if __name__ == "__main__":
    main()
