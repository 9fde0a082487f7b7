"""Follow the agents' run records while the demo runs (for the progress display)."""

from __future__ import annotations

import json
from pathlib import Path


class RecordFollower:
    """Read the complete lines appended to one run record since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self.last: dict | None = None
        self.count = 0

    def poll(self) -> list[dict]:
        """New tick records (a line still being written is left for the next call)."""
        try:
            with self.path.open("rb") as stream:
                stream.seek(self._offset)
                chunk = stream.read()
        except FileNotFoundError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        fresh = []
        for line in complete.splitlines():
            try:
                fresh.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        if fresh:
            self.last = fresh[-1]
            self.count += len(fresh)
        return fresh
