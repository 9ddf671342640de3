"""Rewards per second on one core through each trainer's entry point, side by side.

The workload is :mod:`bench.http_reward`'s (xLAM-style labels with their own tools, a mix of
right, partly right, malformed and no-call completions). Each entry point scores it in this
process, on one thread, for ``--duration`` seconds in all, the paths alternating in
``--rounds`` slices so other load on the machine weighs on each alike:

* **core batch** — :func:`service.core.rewards.compute_rewards` on the whole batch;
* **TRL** — :class:`clients.trl.LocalRewardFunction` called as ``GRPOTrainer`` calls it;
* **verl batch** — :func:`clients.verl_reward.compute_score_batch` (the ``batch`` manager);
* **verl per sample** — :func:`clients.verl_reward.compute_score`, one call per sample (the
  ``naive`` manager and each of verl's reward workers);
* **OpenRLHF reward file** — :func:`clients.openrlhf_reward.reward_func` with one
  prompt + response query per call, as OpenRLHF calls it (the prompt cut off its query).

One thread is one core: the figures size a reward fleet (cores = samples per second needed /
rewards per second here). Prints rewards/s and each path's ratio to the core batch.

Usage::

    nice -n 10 python -m bench.framework_rewards [--duration 20] [--batch 256] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from bench.http_reward import build_batch
from clients.openrlhf_reward import reward_func
from clients.trl import LocalRewardFunction
from clients.verl_reward import compute_score, compute_score_batch
from service.core.rewards import compute_rewards

PROMPT = "<|im_start|>user\nWhich tool fits?<|im_end|>\n<|im_start|>assistant\n"


def entry_points(completions: list[str], labels: list[Any]) -> dict[str, Callable[[], int]]:
    """Each path: a callable that rewards the whole batch once and returns how many it did."""
    trl_reward = LocalRewardFunction()
    queries = [PROMPT + completion for completion in completions]

    def core() -> int:
        return len(compute_rewards(completions, labels))

    def trl() -> int:
        return len(
            trl_reward(prompts=[PROMPT] * len(completions), completions=completions, label=labels)
        )

    def verl_batch() -> int:
        return len(compute_score_batch(["xlam"] * len(completions), completions, labels))

    def verl_per_sample() -> int:
        return sum(
            1
            for text, label in zip(completions, labels, strict=True)
            if compute_score("x", text, label)
        )

    def openrlhf_file() -> int:
        return sum(
            len(reward_func([query], [PROMPT], [label])["rewards"])
            for query, label in zip(queries, labels, strict=True)
        )

    return {
        "core batch (compute_rewards)": core,
        "TRL LocalRewardFunction": trl,
        "verl compute_score_batch": verl_batch,
        "verl compute_score (per sample)": verl_per_sample,
        "OpenRLHF reward_func (per sample)": openrlhf_file,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds per path.")
    parser.add_argument("--batch", type=int, default=256, help="Completions per batch.")
    parser.add_argument("--rounds", type=int, default=5, help="Alternations of the paths.")
    args = parser.parse_args()

    completions, labels = build_batch(args.batch)
    paths = entry_points(completions, labels)
    expected = [b.reward for b in compute_rewards(completions, labels)]
    # Same numbers through every path before timing anything (and warm caches, as in training).
    assert [r["score"] for r in compute_score_batch(["x"] * len(labels), completions, labels)] == (
        expected
    )
    for run in paths.values():
        run()
    print(
        f"batch {args.batch}, {args.duration:.0f} s per path in {args.rounds} alternating "
        f"rounds, one thread, {os.cpu_count()} CPUs on the machine"
    )
    done = dict.fromkeys(paths, 0)
    seconds = dict.fromkeys(paths, 0.0)
    slice_s = args.duration / args.rounds
    for _ in range(args.rounds):
        for name, run in paths.items():
            started = time.perf_counter()
            while time.perf_counter() - started < slice_s:
                done[name] += run()
            seconds[name] += time.perf_counter() - started
    rates = {name: done[name] / seconds[name] for name in paths}
    baseline = rates["core batch (compute_rewards)"]
    print()
    print(f"{'entry point':<36}{'rewards/s/core':>16}{'vs core batch':>16}")
    for name, rate in rates.items():
        print(f"{name:<36}{rate:>16,.0f}{rate / baseline:>16.0%}")


if __name__ == "__main__":
    main()
