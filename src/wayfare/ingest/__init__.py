"""The inlet: parse, authenticate, validate, deduplicate, persist."""
