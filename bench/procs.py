"""Child processes: warm runners (JSON lines) and timed whole-process runs with peak RSS.

Whole-process runs go through :class:`Spawner`, a small helper process that forks them,
times them from just before ``fork`` to their exit, and reaps them with ``os.wait4``,
whose ``rusage`` is that one child's (``ru_maxrss``: its peak resident set, KiB).
``getrusage(RUSAGE_CHILDREN)`` deltas would not do (a running maximum over all children,
not a per-child value), and a child forked by the harness itself would report at least
the harness's own size (``bench/spawner.py`` explains why).
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ec2imds._compat import SLOTS

__all__ = ["ProcResult", "Runner", "RunnerError", "Spawner", "clean_env"]

_DROP_PREFIXES = ("AWS_", "PYTHON", "VIRTUAL_ENV")


def clean_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: no proxies, no AWS_*/PYTHON* settings, a private HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if "proxy" not in k.lower() and not k.startswith(_DROP_PREFIXES)
    }
    env["HOME"] = str(home)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    env["AWS_CONFIG_FILE"] = str(home / "aws-config-absent")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(home / "aws-credentials-absent")
    env.update(extra or {})
    return env


@dataclass(frozen=True, **SLOTS)
class ProcResult:
    seconds: float
    returncode: int
    maxrss_kib: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    cpu: float | None = None  #: user + system CPU seconds of the child


SPAWNER = Path(__file__).resolve().parent / "spawner.py"


class Spawner:
    """Whole-process runs through ``bench/spawner.py`` (see there why: peak RSS)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(SPAWNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=workdir,
        )

    @property
    def own_kib(self) -> int:
        """The spawner's own peak RSS (KiB): smaller peaks cannot be seen."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def run(
        self, cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 60.0
    ) -> ProcResult:
        """Run ``cmd`` to completion; wall time, exit code, peak RSS and output."""
        if self.proc.poll() is not None or self.proc.stdin is None or self.proc.stdout is None:
            raise RunnerError("the spawner is not running")
        out, err = self.workdir / "spawn.out", self.workdir / "spawn.err"
        request = (list(cmd), dict(env), str(cwd), str(out), str(err), float(timeout))
        marshal.dump(request, self.proc.stdin)
        self.proc.stdin.flush()
        try:
            seconds, code, maxrss, killed, cpu = marshal.load(self.proc.stdout)  # noqa: S302
        except (EOFError, ValueError) as exc:
            raise RunnerError(f"the spawner died: {exc}") from exc
        return ProcResult(
            float(seconds),
            int(code),
            int(maxrss),
            out.read_bytes(),
            err.read_bytes(),
            bool(killed),
            float(cpu),
        )

    def close(self) -> None:
        if self.proc.poll() is None:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class RunnerError(RuntimeError):
    """A runner died, timed out, or answered something that is not the protocol."""


class Runner:
    """A warm runner process (``bench/peers/run_*.py``): one request at a time."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stderr_path: Path,
        start_timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.stderr_path = stderr_path
        self._stderr: IO[bytes] = open(stderr_path, "wb")  # noqa: SIM115 (closed in close())
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=dict(env),
            cwd=cwd,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_lines, name=f"bench-{name}", daemon=True)
        self._reader.start()
        hello = self._receive(start_timeout)
        if "hello" not in hello:
            raise RunnerError(f"{name}: no hello: {hello!r}")
        self.hello: dict[str, Any] = hello["hello"]

    def _read_lines(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _receive(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.close(kill=True)
            raise RunnerError(f"{self.name}: no answer in {timeout:.0f} s (killed)") from None
        if line is None:
            self.close(kill=True)
            raise RunnerError(f"{self.name}: exited: {self.stderr_tail()}")
        try:
            reply = json.loads(line)
        except ValueError as exc:
            raise RunnerError(f"{self.name}: not JSON: {line[:200]!r}") from exc
        if not isinstance(reply, dict):
            raise RunnerError(f"{self.name}: not a JSON object: {line[:200]!r}")
        return reply

    @property
    def tasks(self) -> dict[str, str | None]:
        """Task name -> None (available) or the reason it is not."""
        return dict(self.hello.get("tasks", {}))

    def call(self, task: str, n: int = 1, timeout: float = 120.0) -> dict[str, Any]:
        """Run ``task`` ``n`` times in the runner; the reply (``ok``, ``seconds``, ...)."""
        if self.proc.poll() is not None or self.proc.stdin is None:
            raise RunnerError(f"{self.name}: not running")
        self.proc.stdin.write(json.dumps({"task": task, "n": n}) + "\n")
        self.proc.stdin.flush()
        return self._receive(timeout)

    def stderr_tail(self, limit: int = 400) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace").strip()
        except OSError:
            return ""
        return text[-limit:]

    def close(self, *, kill: bool = False) -> None:
        """End the runner (EOF on stdin, then a kill after 10 s); idempotent."""
        if self.proc.poll() is None:
            if not kill and self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    kill = True
            if kill:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()
