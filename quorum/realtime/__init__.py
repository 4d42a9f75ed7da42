"""The real-time core: event log, broker, transports. Imports nothing from a feature."""
