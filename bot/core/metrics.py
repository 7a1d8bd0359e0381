"""The bot's counters and histograms, in one object shared by the API client, the tracker, delivery and the
presenter; served at `/metrics` (Prometheus text format, `prometheus_client`) and read by the benchmark.

Each bot has its own registry (tests run many bots in one process). Gauges that describe the database (jobs by
status and family, deliveries owed) are set by the web server just before a scrape.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

API_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
DELAY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.api_requests = Counter("mjbot_api_requests", "Legnext API requests, by endpoint and HTTP status "
                                    "(0: no answer)", ["endpoint", "status"], registry=r)
        self.api_latency = Histogram("mjbot_api_request_seconds", "Legnext API request latency", ["method"],
                                     buckets=API_LATENCY_BUCKETS, registry=r)
        self.discord_calls = Counter("mjbot_discord_messages", "Job messages sent to Discord, by kind",
                                     ["kind"], registry=r)
        self.delivery_attempts_total = Counter("mjbot_delivery_attempts", "Attempts to show a finished job",
                                               registry=r)
        self.delivered_total = Counter("mjbot_deliveries", "Finished jobs Discord accepted", registry=r)
        self.given_up_total = Counter("mjbot_deliveries_given_up", "Finished jobs that can never be shown",
                                      registry=r)
        self.delivery_delay = Histogram("mjbot_completion_to_delivery_seconds",
                                        "From a job's end at the API to Discord accepting its result",
                                        buckets=DELAY_BUCKETS, registry=r)
        self.points_consumed = Counter("mjbot_points_consumed", "Points the API consumed for finished jobs",
                                       registry=r)
        self.callbacks = Counter("mjbot_callbacks", "Legnext callbacks received, by outcome", ["outcome"],
                                 registry=r)
        self.jobs = Gauge("mjbot_jobs", "Jobs in the database by status and family", ["status", "family"],
                          registry=r)
        self.deliveries_owed = Gauge("mjbot_deliveries_owed", "Finished jobs not yet shown", registry=r)
        self.jobs_tracked = Gauge("mjbot_jobs_tracked", "Unfinished jobs the tracker follows", registry=r)

    # ---- recording ----------------------------------------------------------------------------------------

    def api_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.api_requests.labels(endpoint=endpoint, status=str(status)).inc()
        self.api_latency.labels(method=method).observe(seconds)

    # ---- the figures the benchmark and tests read -----------------------------------------------------------

    def _value(self, name: str, labels: dict[str, str] | None = None) -> int:
        return int(self.registry.get_sample_value(name, labels or {}) or 0)

    @property
    def given_up(self) -> int:
        return self._value("mjbot_deliveries_given_up_total")
