"""Prometheus metrics of one app: HTTP metrics from prometheus-fastapi-instrumentator plus
counters of the work done (items scored, rewards computed).

Each app gets its own registry, so several apps in one process (tests) do not clash. With
``--workers N`` every worker process counts its own requests; scrape each worker, or run one
worker per container as the compose file does.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector


@dataclass(frozen=True, slots=True)
class Telemetry:
    """The registry ``/metrics`` exposes and the counters the serving objects bump."""

    registry: CollectorRegistry
    items_scored: Counter
    rewards_computed: Counter

    @classmethod
    def create(cls) -> Telemetry:
        """A fresh registry with process/platform/GC collectors and ToolGrade's counters."""
        registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        return cls(
            registry=registry,
            items_scored=Counter(
                "toolgrade_items_scored",
                "Items scored by POST /score.",
                registry=registry,
            ),
            rewards_computed=Counter(
                "toolgrade_rewards_computed",
                "Completions rewarded by POST /reward, by profile.",
                ["profile"],
                registry=registry,
            ),
        )

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
