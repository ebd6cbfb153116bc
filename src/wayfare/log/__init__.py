"""The event log: accepted messages in order, for journey workers to consume."""
