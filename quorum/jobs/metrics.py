"""Prometheus metrics of the background jobs (docs/operations.md lists them)."""

from prometheus_client import Counter, Gauge, Histogram

JOBS = Gauge(
    "quorum_jobs", "Jobs in the table by state, as the last sweep of this process counted.",
    ["state"],
)  # fmt: skip
TRANSITIONS = Counter(
    "quorum_job_transitions_total", "Jobs this process moved into each state.", ["state"]
)
QUEUE_WAIT = Histogram(
    "quorum_job_queue_wait_seconds",
    "From a job's request (or its last send) to a worker claiming it.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RUN_TIME = Histogram(
    "quorum_job_run_seconds", "One attempt of a job, from claim to its end.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)  # fmt: skip
