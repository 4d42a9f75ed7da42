"""Stored responses of requests sent with an Idempotency-Key: the table and its queries.
The HTTP side (the header, the replay) is quorum/api/idempotency.py."""
