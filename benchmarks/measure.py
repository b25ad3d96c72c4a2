"""Run one command and measure it: wall time, exit code, output and peak RSS.

Why `os.wait4` instead of `subprocess.run`: it returns the resource usage of exactly that
child (and the children it reaped), so each command's peak RSS is its own. The
`RUSAGE_CHILDREN` total that `resource.getrusage` gives is a running maximum over every
child ever reaped, so a big set-up step would mask the commands measured after it.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Timed:
    """One finished command."""

    argv: str
    seconds: float
    max_rss: int  # bytes
    returncode: int
    stdout: str
    stderr: str


class CommandFailed(RuntimeError):
    """A measured or set-up command exited non-zero: its numbers would be meaningless."""

    def __init__(self, timed: Timed) -> None:
        super().__init__(
            f"command failed with exit code {timed.returncode}: {timed.argv}\n"
            f"--- stdout ---\n{timed.stdout[-4000:]}\n--- stderr ---\n{timed.stderr[-4000:]}"
        )
        self.timed = timed


def run_timed(cmd: Sequence[str] | str, *, cwd: Path | None = None, check: bool = True) -> Timed:
    """Run `cmd` (a string goes through bash, for pipelines) and time it with perf_counter.

    Output goes to temporary files, not pipes, so a chatty command cannot block on a full
    pipe and nothing but the command itself is inside the timed span.
    """
    shell = isinstance(cmd, str)
    text = cmd if isinstance(cmd, str) else shlex.join(cmd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, shell=shell, executable="/bin/bash" if shell else None,
            stdin=subprocess.DEVNULL, stdout=out, stderr=err,
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        timed = Timed(
            argv=text, seconds=seconds, max_rss=usage.ru_maxrss * 1024,
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"), stderr=err.read().decode(errors="replace"),
        )  # fmt: skip
    if check and timed.returncode != 0:
        raise CommandFailed(timed)
    return timed


def _tree_pss(root: int) -> int:
    """Summed PSS (bytes) of `root` and its descendants; PSS shares each page out among the
    processes that map it, so forked workers are not double-counted as summed RSS would be."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def tree_peak_pss(cmd: Sequence[str], interval: float = 0.005) -> tuple[int, int]:
    """Run `cmd` untimed, polling /proc; return (peak summed PSS of its process tree, exit code).

    Why besides wait4: `ru_maxrss` is the largest single process, so a command that hashes
    in worker processes looks smaller than the memory it really holds. Polling costs CPU,
    so this runs apart from the timed runs.
    """
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_pss(proc.pid))
        time.sleep(interval)
    return peak, proc.returncode


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
