"""Quorum: a real-time, multi-user decision platform."""
