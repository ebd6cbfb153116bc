"""Client libraries: the sender (``Inlet``, ``AsyncInlet``) and the admin API client.

The sender speaks Adobe's streaming ingestion protocol, so it works against Adobe
Experience Platform's own inlets too (same URL shape, same headers).
"""

from wayfare.client.batching import MessageResult
from wayfare.client.inlet import AsyncInlet, Inlet, RetryPolicy

__all__ = ["AsyncInlet", "Inlet", "MessageResult", "RetryPolicy"]
