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

if TYPE_CHECKING:
    from ec2imds.client import IMDS, AsyncIMDS
    from ec2imds.errors import (
        IdentityVerificationError,
        IMDSConfigError,
        IMDSDisabled,
        IMDSError,
        IMDSHTTPError,
        IMDSTimeout,
        IMDSUnavailable,
        IMDSValidationError,
        RedirectRefused,
        ResponseTooLarge,
        TokenError,
    )
    from ec2imds.identity import VerifiedIdentity, verify_identity
    from ec2imds.settings import Settings
    from ec2imds.tokens import (
        CallbackTokenStore,
        FileTokenStore,
        MemoryTokenStore,
        Token,
        TokenStore,
        TokenStoreError,
    )
    from ec2imds.watch import (
        Event,
        EventTracker,
        LifecycleStateEvent,
        RebalanceRecommendationEvent,
        ScheduledMaintenanceEvent,
        SpotInstanceActionEvent,
        SpotTerminationTimeEvent,
        WatchEvent,
    )
    from ec2imds.wrapper import IMDSCategory, IMDSWrapper

__all__ = [
    "IMDS",
    "AsyncIMDS",
    "CallbackTokenStore",
    "Event",
    "EventTracker",
    "FileTokenStore",
    "IMDSCategory",
    "IMDSConfigError",
    "IMDSDisabled",
    "IMDSError",
    "IMDSHTTPError",
    "IMDSTimeout",
    "IMDSUnavailable",
    "IMDSValidationError",
    "IMDSWrapper",
    "IdentityVerificationError",
    "LifecycleStateEvent",
    "MemoryTokenStore",
    "RebalanceRecommendationEvent",
    "RedirectRefused",
    "ResponseTooLarge",
    "ScheduledMaintenanceEvent",
    "Settings",
    "SpotInstanceActionEvent",
    "SpotTerminationTimeEvent",
    "Token",
    "TokenError",
    "TokenStore",
    "TokenStoreError",
    "VerifiedIdentity",
    "WatchEvent",
    "verify_identity",
]

#: Where each public name lives (imported on first access).
_LAZY = {
    "IMDS": "ec2imds.client",
    "AsyncIMDS": "ec2imds.client",
    "IMDSWrapper": "ec2imds.wrapper",
    "IMDSCategory": "ec2imds.wrapper",
    "Settings": "ec2imds.settings",
    "VerifiedIdentity": "ec2imds.identity",
    "verify_identity": "ec2imds.identity",
    "CallbackTokenStore": "ec2imds.tokens",
    "FileTokenStore": "ec2imds.tokens",
    "MemoryTokenStore": "ec2imds.tokens",
    "Token": "ec2imds.tokens",
    "TokenStore": "ec2imds.tokens",
    "TokenStoreError": "ec2imds.tokens",
    "Event": "ec2imds.watch",
    "EventTracker": "ec2imds.watch",
    "LifecycleStateEvent": "ec2imds.watch",
    "RebalanceRecommendationEvent": "ec2imds.watch",
    "ScheduledMaintenanceEvent": "ec2imds.watch",
    "SpotInstanceActionEvent": "ec2imds.watch",
    "SpotTerminationTimeEvent": "ec2imds.watch",
    "WatchEvent": "ec2imds.watch",
    **{
        name: "ec2imds.errors"
        for name in (
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
        )
    },
}


if not TYPE_CHECKING:  # mypy sees the imports above; a misspelt name stays an error

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later accesses skip this function
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
