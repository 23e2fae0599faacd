"""A one-item mailbox between a subscription and a worker: only the newest input is processed.

A slow model must never build a queue on a live stream; the inputs it had no time for are
replaced (and counted as dropped) instead.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

Item = TypeVar("Item")


class LatestSlot(Generic[Item]):
    """put() replaces any unprocessed item; take() waits for the next one."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: Item | None = None
        self._closed = False
        self.dropped = 0

    def put(self, item: Item) -> bool:
        """Store `item`; True when it replaced one the worker never took (a dropped input)."""
        with self._condition:
            replaced = self._item is not None
            if replaced:
                self.dropped += 1
            self._item = item
            self._condition.notify()
            return replaced

    def take(self, timeout: float | None = None) -> Item | None:
        """The newest item, or None on timeout or after close()."""
        with self._condition:
            self._condition.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return None if self._closed else item

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
