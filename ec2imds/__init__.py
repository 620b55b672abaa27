"""ec2imds: a typed SDK and CLI for the EC2 Instance Metadata Service (IMDSv2).

``from ec2imds import *`` gives what ec2imds 0.0.3 code uses (:class:`IMDSWrapper`,
:class:`IMDSCategory`) and the typed API. The names are resolved on first access, so
importing the package stays cheap (the command line imports it on every run): httpx and
pydantic are loaded only when a client, the wrapper or a model is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0.dev0"

# ec2imds 0.0.3's module attributes, kept for code that reads them.
ver = __version__
rev = 0
imds_ver = "latest"

if TYPE_CHECKING:  # the type checkers' view of _PUBLIC (explicit re-exports)
    from ec2imds.client import (
        IMDS as IMDS,
    )
    from ec2imds.client import (
        AsyncIMDS as AsyncIMDS,
    )
    from ec2imds.errors import (
        IdentityVerificationError as IdentityVerificationError,
    )
    from ec2imds.errors import (
        IMDSConfigError as IMDSConfigError,
    )
    from ec2imds.errors import (
        IMDSDisabled as IMDSDisabled,
    )
    from ec2imds.errors import (
        IMDSError as IMDSError,
    )
    from ec2imds.errors import (
        IMDSHTTPError as IMDSHTTPError,
    )
    from ec2imds.errors import (
        IMDSTimeout as IMDSTimeout,
    )
    from ec2imds.errors import (
        IMDSUnavailable as IMDSUnavailable,
    )
    from ec2imds.errors import (
        IMDSValidationError as IMDSValidationError,
    )
    from ec2imds.errors import (
        RedirectRefused as RedirectRefused,
    )
    from ec2imds.errors import (
        ResponseTooLarge as ResponseTooLarge,
    )
    from ec2imds.errors import (
        TokenError as TokenError,
    )
    from ec2imds.identity import (
        VerifiedIdentity as VerifiedIdentity,
    )
    from ec2imds.identity import (
        verify_identity as verify_identity,
    )
    from ec2imds.settings import Settings as Settings
    from ec2imds.tokens import (
        CallbackTokenStore as CallbackTokenStore,
    )
    from ec2imds.tokens import (
        FileTokenStore as FileTokenStore,
    )
    from ec2imds.tokens import (
        MemoryTokenStore as MemoryTokenStore,
    )
    from ec2imds.tokens import (
        Token as Token,
    )
    from ec2imds.tokens import (
        TokenStore as TokenStore,
    )
    from ec2imds.tokens import (
        TokenStoreError as TokenStoreError,
    )
    from ec2imds.watch import (
        Event as Event,
    )
    from ec2imds.watch import (
        EventTracker as EventTracker,
    )
    from ec2imds.watch import (
        LifecycleStateEvent as LifecycleStateEvent,
    )
    from ec2imds.watch import (
        RebalanceRecommendationEvent as RebalanceRecommendationEvent,
    )
    from ec2imds.watch import (
        ScheduledMaintenanceEvent as ScheduledMaintenanceEvent,
    )
    from ec2imds.watch import (
        SpotInstanceActionEvent as SpotInstanceActionEvent,
    )
    from ec2imds.watch import (
        SpotTerminationTimeEvent as SpotTerminationTimeEvent,
    )
    from ec2imds.watch import (
        WatchEvent as WatchEvent,
    )
    from ec2imds.wrapper import (
        IMDSCategory as IMDSCategory,
    )
    from ec2imds.wrapper import (
        IMDSWrapper as IMDSWrapper,
    )

#: Every public name, by the module it lives in: the one list. ``__all__`` and the lazy
#: loading below are made from it; the imports above say the same to type checkers (which
#: cannot read a table), and ``tests/test_wrapper.py`` keeps the two the same.
_PUBLIC: dict[str, tuple[str, ...]] = {
    "ec2imds.client": ("IMDS", "AsyncIMDS"),
    "ec2imds.wrapper": ("IMDSWrapper", "IMDSCategory"),
    "ec2imds.settings": ("Settings",),
    "ec2imds.identity": ("VerifiedIdentity", "verify_identity"),
    "ec2imds.tokens": (
        "CallbackTokenStore",
        "FileTokenStore",
        "MemoryTokenStore",
        "Token",
        "TokenStore",
        "TokenStoreError",
    ),
    "ec2imds.watch": (
        "Event",
        "EventTracker",
        "LifecycleStateEvent",
        "RebalanceRecommendationEvent",
        "ScheduledMaintenanceEvent",
        "SpotInstanceActionEvent",
        "SpotTerminationTimeEvent",
        "WatchEvent",
    ),
    "ec2imds.errors": (
        "IMDSConfigError",
        "IMDSDisabled",
        "IMDSError",
        "IMDSHTTPError",
        "IMDSTimeout",
        "IMDSUnavailable",
        "IMDSValidationError",
        "IdentityVerificationError",
        "RedirectRefused",
        "ResponseTooLarge",
        "TokenError",
    ),
}

_LAZY = {name: module for module, names in _PUBLIC.items() for name in names}

if not TYPE_CHECKING:  # (type checkers take the explicit re-exports above instead)
    __all__ = sorted(_LAZY)


if not TYPE_CHECKING:  # mypy sees the imports above; a misspelt name stays an error

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later accesses skip this function
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
