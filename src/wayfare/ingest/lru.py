"""A map that keeps at most ``max_entries``, dropping the least recently used first.

Caches filled from request data (an inlet id, a bearer token) use it, so that whatever a
caller sends, hits and misses alike, memory stays bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruMap(Generic[K, V]):
    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("an LruMap holds at least one entry")
        self._max = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __delitem__(self, key: K) -> None:
        del self._entries[key]

    def pop(self, key: K, default: V | None = None) -> V | None:
        return self._entries.pop(key, default)

    def items(self) -> Iterator[tuple[K, V]]:
        return iter(list(self._entries.items()))

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
