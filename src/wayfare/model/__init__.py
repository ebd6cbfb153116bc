"""The domain: plain Python, no drivers, no web framework."""
