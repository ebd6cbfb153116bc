"""Wayfare: event-triggered customer journeys behind an Adobe-compatible streaming ingestion API."""

__version__ = "0.1.0"
