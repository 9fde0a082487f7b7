"""The live progress line of the demo: time, round, members alive, spread, energy moved."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from otswarm.demo.follow import RecordFollower
from otswarm.demo.report import alignment_spread


class DemoProgress:
    """A rich progress bar over the run's duration with the swarm's current figures."""

    def __init__(self, duration_s: float, support: Sequence[float], console: Console) -> None:
        self.support = support
        self.moved_j = 0.0
        self.stale_events = 0
        self._progress = Progress(
            TextColumn("[bold]swarm[/bold]"),
            BarColumn(bar_width=16),
            TimeRemainingColumn(compact=True),
            TextColumn("{task.description}"),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("starting agents", total=duration_s)

    def __enter__(self) -> DemoProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._progress.stop()

    def update(self, elapsed_s: float, followers: Sequence[RecordFollower], alive: int) -> None:
        """Read the agents' new ticks and refresh the line."""
        for follower in followers:
            for line in follower.poll():
                self.moved_j += line["given_j"]
                self.stale_events += bool(line["stale_policy"])
        latest = [f.last for f in followers if f.last is not None]
        rounds = max((line["round"] for line in latest), default=None)
        states = [
            line["aligned_probs"]
            for line in latest
            if line["aligned_probs"] and rounds is not None and line["round"] >= rounds - 1
        ]
        spread = alignment_spread(states, self.support) if len(states) > 1 else None
        text = (
            f"alive {alive}/{len(followers)} ticks {sum(f.count for f in followers)} "
            f"spread {'-' if spread is None else f'{spread:.3f}'} "
            f"moved {self.moved_j:.0f} J drift {self.stale_events}"
        )
        self._progress.update(self._task, completed=elapsed_s, description=text)
