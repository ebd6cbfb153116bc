"""Storage: ports (Protocols) and their adapters, named after their technology."""
