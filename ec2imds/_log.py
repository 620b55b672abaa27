"""The ``ec2imds`` logger, without importing :mod:`logging` until it is needed.

``import logging`` (with ``traceback``, ``linecache``, ``tokenize``, ``string``...) costs
about a tenth of a one-value command's run, which logs nothing. :data:`log` stands for
``logging.getLogger("ec2imds")``: a record below WARNING is dropped without importing
:mod:`logging` as long as nothing has imported it (then nothing can have configured a
level or a handler, and logging's default emits WARNING and above only); anything else
goes to the real logger, imported on first use, with the caller's location
(``stacklevel``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

__all__ = ["DEBUG", "INFO", "WARNING", "Logger", "log"]

DEBUG, INFO, WARNING = 10, 20, 30


class Logger:
    """A stand-in for ``logging.getLogger(name)``: ``debug``, ``info``, ``warning`` and
    ``isEnabledFor`` here, anything else from :attr:`real`, the logger itself."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._real: logging.Logger | None = None
        #: Run with the real logger when it is first needed (the command line's handler).
        #: It must not enable levels below WARNING: those are dropped until then.
        self.on_first_use: Callable[[logging.Logger], None] | None = None

    @property
    def used(self) -> bool:
        """True once the real logger was needed."""
        return self._real is not None

    @property
    def real(self) -> logging.Logger:
        if self._real is None:
            import logging

            self._real = logging.getLogger(self.name)
            if self.on_first_use is not None:
                self.on_first_use(self._real)
        return self._real

    def isEnabledFor(self, level: int) -> bool:  # logging.Logger's name
        if self._real is None and "logging" not in sys.modules:
            return level >= WARNING
        return self.real.isEnabledFor(level)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(DEBUG):
            self.real.debug(msg, *args, stacklevel=2, **kwargs)

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(INFO):
            self.real.info(msg, *args, stacklevel=2, **kwargs)

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.real.warning(msg, *args, stacklevel=2, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # Anything else (error, exception, handlers, setLevel...) is the real logger's.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.real, name)


log = Logger("ec2imds")
