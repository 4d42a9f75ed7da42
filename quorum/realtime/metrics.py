"""Prometheus metrics of the real-time core (exposed at /metrics).

Counted in batches on the hot path: one ``inc(n)`` per write, not one per message.
"""

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("quorum_stream_connections", "Open streaming connections.", ["transport"])
PUBLISHED = Counter("quorum_events_published_total", "Log entries published after commit.")
DELIVERED = Counter(
    "quorum_messages_delivered_total", "Messages written to clients.", ["transport"]
)
SLOW_CONSUMERS = Counter(
    "quorum_slow_consumers_dropped_total", "Connections closed because their queue was full."
)
GAPS = Counter(
    "quorum_seq_gaps_total", "Broker messages that arrived after a gap (filled from the log)."
)
COMMIT_TO_SEND = Histogram(
    "quorum_commit_to_send_seconds",
    "From the commit of a change to the write of its message to a client.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
