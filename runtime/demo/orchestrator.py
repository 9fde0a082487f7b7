"""The demo's run: broker, warm kernels, one simulated MCU and one agent process per
board, a scripted harvest drop mid-run, progress, then the report.

Timeline of a run of ``duration_s`` seconds: the agent processes start first
and wait for their MCUs (imports, policy and kernels take seconds on a loaded
machine); then

- ``0``: the simulated MCUs power up and the agents start ticking;
- ``drop_at * duration_s``: every simulated harvester loses ``1 - drop_factor``
  of its power (scripted in the simulators' board time: clouds roll in), which
  the agents' drift monitors must notice;
- ``duration_s``: every agent gets SIGTERM, flushes its ledger, publishes offline.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from otswarm.demo.boards import BATTERY_J, BOOT_HOUR, board_configs, start_simulated_boards
from otswarm.demo.configs import write_agent_config
from otswarm.demo.follow import RecordFollower
from otswarm.demo.processes import AgentProcess
from otswarm.demo.progress import DemoProgress

log = logging.getLogger(__name__)

MCU_LINK = "mcu"  # in each agent's folder: the symlink to its simulated MCU's pty


@dataclass(frozen=True)
class DemoSettings:
    """What ``otswarm demo`` was asked for."""

    agents: int = 8
    duration_s: float = 45.0
    broker_url: str | None = None
    out_dir: Path = Path("out/demo")
    tick_period_s: float = 0.5
    cluster_size: int = 4  # 8 agents align in two OT-balanced groups joined by their heads
    drop_at: float = 0.5  # fraction of the run at which harvest drops
    drop_factor: float = 0.2  # harvest keeps this fraction of its power after the drop
    acceleration: float = 240.0  # board seconds per wall second: 45 s = 10:30 to 13:30
    stop_timeout_s: float = 10.0
    startup_timeout_s: float = 120.0


@dataclass
class DemoRun:
    """What the run left behind, for the report."""

    settings: DemoSettings
    broker_url: str
    started_at: float  # Unix s when the boards powered up (the tick records' clock)
    duration_s: float  # from then to the end of the run (monotonic)
    drop_after_s: float | None  # when the harvest dropped, s after ``started_at``
    processes: list[AgentProcess]


STARTUP_S = 1.5  # from the boards powering up to the agents' first ticks
CALIBRATION_WINDOWS = 4  # the drift monitor's reference pool (DriftMonitor's default)


def drift_window_for(settings: DemoSettings) -> int:
    """Ticks per drift window so that calibration ends just before the harvest drop.

    The monitor calibrates on ``4 * w`` ticks, compares each later window, and
    after a detection recalibrates on the next ``4 * w``. With the drop at half the
    run, calibration covers the calm first half, the first window after it sees
    the drop, and the recalibration lasts past the end of the run: one detection
    per agent, the scripted one (``w`` >= 4, the monitor's minimum).
    """
    calm_s = settings.drop_at * settings.duration_s - STARTUP_S
    return max(4, int(calm_s / (CALIBRATION_WINDOWS * settings.tick_period_s)))


def agent_ids(n: int) -> list[str]:
    return [f"agent-{i:02d}" for i in range(n)]


def run_demo(settings: DemoSettings, console: Console, support) -> DemoRun:
    """Run the swarm for ``settings.duration_s`` seconds and return what happened."""
    out = settings.out_dir.resolve()  # the agents get absolute paths: any cwd works
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        url = settings.broker_url or _start_broker(stack, console)
        _warm_kernels(console)
        processes = []
        for index, agent_id in enumerate(agent_ids(settings.agents)):
            folder = out / agent_id
            config = write_agent_config(
                folder,
                agent_id,
                index,
                str(folder / MCU_LINK),
                url,
                settings.tick_period_s,
                BOOT_HOUR,
                drift_window_for(settings),
                settings.cluster_size,
                BATTERY_J,
            )
            processes.append(AgentProcess(agent_id, config, folder / "stdout.log"))
        for process in processes:
            process.start()
        stack.callback(_stop_all, processes, settings.stop_timeout_s)
        _wait_until_opening(processes, console, settings.startup_timeout_s)
        # the boards power up once every agent waits for its MCU: imports are done,
        # so the scripted harvest drop falls mid-run however slow the start was
        drop_after_s = settings.drop_at * settings.duration_s
        configs = board_configs(
            len(processes), settings.acceleration, drop_after_s, settings.drop_factor
        )
        links = [p.config_path.parent / MCU_LINK for p in processes]
        start_simulated_boards(configs, links, stack)
        started_at, began = time.time(), time.monotonic()
        console.print(
            f"{len(processes)} agents with their simulated MCUs, broker {url}; output in {out}"
        )
        followers = [RecordFollower(out / p.agent_id / "run.jsonl") for p in processes]
        with DemoProgress(settings.duration_s, support, console) as progress:
            while (elapsed := time.monotonic() - began) < settings.duration_s:
                progress.update(elapsed, followers, sum(p.alive for p in processes))
                time.sleep(0.5)
            progress.update(settings.duration_s, followers, sum(p.alive for p in processes))
        _stop_all(processes, settings.stop_timeout_s)
        duration_s = time.monotonic() - began
        return DemoRun(settings, url, started_at, duration_s, drop_after_s, processes)


def _wait_until_opening(processes: list[AgentProcess], console: Console, timeout_s: float) -> None:
    """Wait until every live agent has logged that it is opening its MCU."""
    deadline = time.monotonic() + timeout_s
    waiting = list(processes)
    with console.status(f"starting {len(processes)} agent processes") as status:
        while waiting and time.monotonic() < deadline:
            waiting = [p for p in waiting if p.alive and not _opening(p)]
            status.update(f"starting agent processes: {len(processes) - len(waiting)} ready")
            time.sleep(0.1)
    for process in waiting:
        log.warning("%s did not get ready within %.0f s", process.agent_id, timeout_s)


def _opening(process: AgentProcess) -> bool:
    log_file = process.config_path.parent / "agent.log"
    return log_file.exists() and '"event": "bridge_opening"' in log_file.read_text()


def _start_broker(stack: contextlib.ExitStack, console: Console) -> str:
    from otswarm.link.broker import EmbeddedBroker

    broker = stack.enter_context(EmbeddedBroker())
    console.print(f"embedded {broker.kind} broker on {broker.url}")
    return broker.url


def _warm_kernels(console: Console) -> None:
    """Compile (or load from cache) the OT kernels once here, so N agents do not all compile."""
    import otswarm.ot

    began = time.perf_counter()
    with console.status("warming the Numba cache of the OT kernels"):
        otswarm.ot.warmup()
    console.print(f"OT kernels ready in {time.perf_counter() - began:.1f} s")


def _stop_all(processes: list[AgentProcess], timeout_s: float) -> None:
    """SIGTERM every live agent, then wait for all (SIGKILL after ``timeout_s``)."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + timeout_s
    for process in processes:
        process.wait(deadline - time.monotonic())
