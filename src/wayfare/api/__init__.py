"""HTTP: the collection endpoints, the admin API, and the one mapping of errors to HTTP."""
