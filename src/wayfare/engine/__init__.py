"""The journey runtime: the pure core, and the loops that feed it triggers."""
