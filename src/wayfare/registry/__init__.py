"""Admin use cases: orgs, schemas, datasets, inlets and tokens, and applying definitions."""
