"""A small process that starts the whole-process runs, so their peak RSS can be measured.

Run as ``python -I -S bench/spawner.py`` (about 9 MiB resident). Linux's ``ru_maxrss`` of
a child includes the high-water mark of the memory it was forked from (it is carried
across ``exec``), so a child forked by the harness (tens of MiB: the simulator, ec2imds)
would report at least the harness's size. Forked from this process instead, a child's
``ru_maxrss`` is its own peak, as long as that peak is above this process's ~9 MiB (any
Python program's is: ``python -c pass`` peaks at ~10.5 MiB).

Protocol on stdin/stdout: ``marshal`` of ``(argv, env, cwd, out_path, err_path,
timeout)`` in, ``marshal`` of ``(seconds, exit_code, maxrss_kib, timed_out, cpu)`` out
(``cpu``: the child's user + system CPU seconds, from the same rusage).
``seconds`` runs from just before ``fork`` to the child's exit; the child is waited for
with ``waitid(WNOWAIT)`` first, so the timeout's kill can never hit a recycled pid, then
reaped with ``wait4`` for its own rusage. Standard library builtins only, to stay small.
"""

from __future__ import annotations

import marshal
import os
import signal
import sys
import time

_child = [0, 0]  # pid being waited for, killed flag


def _on_alarm(signum: int, frame: object) -> None:
    if _child[0]:
        try:
            os.kill(_child[0], signal.SIGKILL)
            _child[1] = 1
        except ProcessLookupError:
            pass


def _run(
    argv: list[str], env: dict[str, str], cwd: str, out_path: str, err_path: str, timeout: float
) -> tuple[float, int, int, int, float]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fo = os.open(out_path, flags, 0o600)
    fe = os.open(err_path, flags, 0o600)
    fi = os.open(os.devnull, os.O_RDONLY)
    _child[1] = 0
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            os.dup2(fi, 0)
            os.dup2(fo, 1)
            os.dup2(fe, 2)
            os.execve(argv[0], argv, env)  # noqa: S606 (argv built by the harness)
        finally:
            os._exit(127)
    _child[0] = pid
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        seconds = time.perf_counter() - t0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _child[0] = 0  # a zombie until wait4: never a recycled pid
    _, status, usage = os.wait4(pid, 0)
    for fd in (fo, fe, fi):
        os.close(fd)
    cpu = float(usage.ru_utime + usage.ru_stime)
    return (seconds, os.waitstatus_to_exitcode(status), int(usage.ru_maxrss), _child[1], cpu)


def main() -> None:
    signal.signal(signal.SIGALRM, _on_alarm)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            request = marshal.load(inp)  # noqa: S302 (the harness is the only writer)
        except EOFError:
            return
        marshal.dump(_run(*request), out)
        out.flush()


if __name__ == "__main__":
    main()
