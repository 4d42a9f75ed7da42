"""Invitation links: a way into an event without an organizer deciding on each request."""
