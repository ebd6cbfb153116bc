"""Client libraries: the admin API client behind the CLI."""
