"""The decisions domain: events, memberships, proposals, votes, comments."""
