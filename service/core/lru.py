"""A bounded least-recently-used map, the one cache shape the scoring code keeps by content."""

from __future__ import annotations

from collections import OrderedDict
from contextlib import suppress
from typing import Generic, TypeVar

__all__ = ["LruCache"]

_V = TypeVar("_V")


class LruCache(Generic[_V]):
    """A bounded map from a bytes key (canonical JSON) to a value, least recently used
    dropped first.

    Concurrent threads may miss on one key together and both store it; a ``KeyError`` when an
    entry moves or goes means another thread dropped it in between: harmless either way.
    ``misses`` counts the lookups that found nothing (what a first sight costs).

    Example:
        >>> cache = LruCache[int](2)
        >>> cache.put(b"a", 1); cache.put(b"b", 2); cache.get(b"a")
        1
        >>> cache.put(b"c", 3)  # drops b"b", the least recently used
        >>> cache.get(b"b") is None, len(cache), cache.misses
        (True, 2, 1)
    """

    __slots__ = ("_entries", "misses", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.misses = 0
        self._entries: OrderedDict[bytes, _V] = OrderedDict()

    def get(self, key: bytes) -> _V | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        with suppress(KeyError):
            self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, value: _V) -> None:
        self._entries[key] = value
        while len(self._entries) > self.size:
            with suppress(KeyError):
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
