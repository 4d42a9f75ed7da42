"""Applications built on Quorum's real-time core, as a library user would."""
