"""Database plumbing: declarative base, engine, unit of work, the repository base."""
