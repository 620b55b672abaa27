"""A simulator with test hooks (:class:`HookedSimulator`): the fault matrix, the leak tests."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping

from ec2imds.settings import Settings
from ec2imds.simulator import IMDSSimulator, SimResponse

#: Connect and read timeout of every trial (the CLI's via AWS_METADATA_SERVICE_TIMEOUT).
TIMEOUT = 0.2
#: Attempts per request (the default); a burst of ATTEMPTS - 1 is survivable.
ATTEMPTS = 3


def _same(requested: str, path: str) -> bool:
    return requested.rstrip("/") == "/latest/" + path.rstrip("/")


class HookedSimulator(IMDSSimulator):
    """The simulator plus test hooks: an action before the n-th matching request
    (a token revoked, an interface detached), a slow body on one path, and the tokens
    issued (to look for them where they must never be)."""

    def __init__(self, *, seed: int) -> None:
        super().__init__(seed=seed)
        self.before: list[Callable[[str, str], None]] = []
        self.after: list[Callable[[str, str, SimResponse], None]] = []
        self.issued: list[str] = []
        self.fired: list[str] = []

    def handle(self, method: str, path: str, headers: Mapping[str, str]) -> SimResponse:
        for hook in self.before:
            hook(method, path)
        response = super().handle(method, path, headers)
        if method == "PUT" and response.status == 200:
            self.issued.append(response.body.decode())
        for shape in self.after:
            shape(method, path, response)
        return response

    def before_nth(
        self, match: Callable[[str, str], bool], nth: int, action: Callable[[], object]
    ) -> None:
        """Run ``action`` just before the ``nth`` request that ``match``es."""
        count = itertools.count(1)
        lock = threading.Lock()

        def hook(method: str, path: str) -> None:
            if match(method, path):
                with lock:
                    n = next(count)
                if n == nth:
                    action()
                    self.fired.append(f"before #{nth}")

        self.before.append(hook)

    def slow(self, path: str, delay: float, count: int, size: int = 0) -> None:
        """The next ``count`` GETs of ``path``: each body chunk ``delay`` s late (chunks
        of ``size`` bytes: ``1`` is a trickle)."""
        left = [count]
        lock = threading.Lock()

        def shape(method: str, requested: str, response: SimResponse) -> None:
            if method != "GET" or not _same(requested, path):
                return
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
                if left[0] == 0:
                    self.fired.append(f"slow x{count}")
            response.chunk_delay = delay
            response.chunk_size = size

        self.after.append(shape)


@contextlib.contextmanager
def simulator(seed: int = 5) -> Iterator[IMDSSimulator]:
    sim = HookedSimulator(seed=seed)
    with sim:
        yield sim


def settings_for(sim: IMDSSimulator) -> Settings:
    return Settings.resolve(
        endpoints=[sim.endpoint],
        env={},
        timeout=TIMEOUT,
        attempts=ATTEMPTS,
        backoff_base=0.001,
        backoff_cap=0.01,
    )
