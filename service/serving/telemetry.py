"""Prometheus metrics of one app: HTTP metrics of every request plus counters of the work done
(items scored, rewards computed).

The HTTP metrics keep the names and labels prometheus-fastapi-instrumentator's defaults gave
them (``http_requests_total{method,status,handler}`` with statuses grouped as ``2xx``,
``http_request_duration_seconds{method,handler}``, ``http_request_duration_highr_seconds``,
``http_request_size_bytes{handler}``, ``http_response_size_bytes{handler}``), so dashboards
built on them keep working; :class:`service.middleware.RequestContextMiddleware` records them
with the route the router already matched instead of matching every request a second time.
Label values are bounded: ``handler`` is a route template (``"none"`` for unknown paths),
``method`` one of the methods the HTTP parser accepts, ``status`` a class such as ``4xx``.

Each app gets its own registry, so several apps in one process (tests) do not clash. With
``--workers N`` every worker process counts its own requests; scrape each worker, or run one
worker per container as the compose file does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, Summary, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

# Buckets of the by-handler latency histogram (few: one series per bucket and handler) and of
# the unlabelled one (many, for percentiles), in seconds.
LATENCY_BUCKETS = (0.1, 0.5, 1.0)
LATENCY_HIGHR_BUCKETS = (
    *(0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5),
    *(3.0, 3.5, 4.0, 4.5, 5.0, 7.5, 10.0, 30.0, 60.0),
)
#: The ``handler`` label of a request no route matched.
UNMATCHED_HANDLER = "none"


@dataclass(frozen=True, slots=True)
class HttpMetrics:
    """The per-request HTTP metrics, with the labelled series looked up once per label set."""

    requests: Counter
    latency: Histogram
    latency_highr: Histogram
    request_size: Summary
    response_size: Summary
    # (method, status class, handler) -> that label set's series. Bounded as the labels are.
    _series: dict[tuple[str, str, str], tuple[Counter, Histogram, Summary, Summary]] = field(
        default_factory=dict
    )

    @classmethod
    def create(cls, registry: CollectorRegistry) -> HttpMetrics:
        """Register the HTTP metrics in ``registry``."""
        return cls(
            requests=Counter(
                "http_requests_total",
                "Total number of requests by method, status and handler.",
                ["method", "status", "handler"],
                registry=registry,
            ),
            latency=Histogram(
                "http_request_duration_seconds",
                "Latency with only few buckets by handler.",
                ["method", "handler"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            latency_highr=Histogram(
                "http_request_duration_highr_seconds",
                "Latency with many buckets but no labels, for percentiles.",
                buckets=LATENCY_HIGHR_BUCKETS,
                registry=registry,
            ),
            request_size=Summary(
                "http_request_size_bytes",
                "Content-Length of requests by handler (0 when the header is absent).",
                ["handler"],
                registry=registry,
            ),
            response_size=Summary(
                "http_response_size_bytes",
                "Content-Length of responses by handler (0 when the header is absent).",
                ["handler"],
                registry=registry,
            ),
        )

    def observe(
        self,
        *,
        method: str,
        status: int,
        handler: str,
        request_bytes: int,
        response_bytes: int,
        duration_s: float,
    ) -> None:
        """Count one finished request.

        Example:
            >>> metrics = HttpMetrics.create(CollectorRegistry())
            >>> metrics.observe(method="POST", status=201, handler="/reward", request_bytes=10,
            ...     response_bytes=20, duration_s=0.002)
            >>> metrics.requests.labels("POST", "2xx", "/reward")._value.get()
            1.0
        """
        status_class = f"{status // 100}xx"
        key = (method, status_class, handler)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self.requests.labels(method, status_class, handler),
                self.latency.labels(method, handler),
                self.request_size.labels(handler),
                self.response_size.labels(handler),
            )
        requests, latency, request_size, response_size = series
        requests.inc()
        latency.observe(duration_s)
        self.latency_highr.observe(duration_s)
        request_size.observe(request_bytes)
        response_size.observe(response_bytes)


@dataclass(frozen=True, slots=True)
class Telemetry:
    """The registry ``/metrics`` exposes, the HTTP metrics and the counters the serving
    objects bump."""

    registry: CollectorRegistry
    http: HttpMetrics
    items_scored: Counter
    rewards_computed: Counter

    @classmethod
    def create(cls) -> Telemetry:
        """A fresh registry with process/platform/GC collectors and ToolGrade's metrics."""
        registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        return cls(
            registry=registry,
            http=HttpMetrics.create(registry),
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
