"""Background jobs: a row per job written in the request's transaction (the outbox),
sent to taskiq after commit, claimed before it runs; the decision report is the first."""
