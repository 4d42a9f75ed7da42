"""HTTP edge shared by every feature: errors, pagination, idempotency, auth, routing."""
