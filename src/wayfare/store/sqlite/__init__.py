"""The embedded store on one SQLite file."""
