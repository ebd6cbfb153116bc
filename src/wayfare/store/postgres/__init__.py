"""The PostgreSQL store: resources, accepted messages and (later) journeys on a shared server."""
