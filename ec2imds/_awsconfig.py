"""The AWS config file's IMDS keys, read as botocore reads them.

``AWS_CONFIG_FILE`` (default ``~/.aws/config``) and ``AWS_PROFILE`` (default ``default``):
the ``[default]`` section, or ``[profile NAME]``. As in botocore, a profile may also be
a ``[NAME]`` section of the shared credentials file (``AWS_SHARED_CREDENTIALS_FILE``,
default ``~/.aws/credentials``), whose keys then override the config file's. A missing
file is no error; a named profile that neither file has is. ``configparser`` is imported
only when a file exists (the command line's start-up budget), and of the credentials
file only the section holding the profile is looked at (its secrets are never logged).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ec2imds._log import log
from ec2imds.errors import IMDSConfigError

__all__ = ["KEYS", "Profile", "read_profile"]

#: The file read when ``AWS_CONFIG_FILE`` is unset (the tests point it elsewhere).
DEFAULT_CONFIG_FILE = "~/.aws/config"
#: The shared credentials file read when ``AWS_SHARED_CREDENTIALS_FILE`` is unset.
DEFAULT_CREDENTIALS_FILE = "~/.aws/credentials"

#: The keys read, and the Settings field each feeds.
KEYS = (
    "ec2_metadata_service_endpoint",
    "ec2_metadata_service_endpoint_mode",
    "metadata_service_timeout",
    "metadata_service_num_attempts",
)


class Profile:
    """The IMDS keys of one profile, and where they came from (for error messages)."""

    __slots__ = ("files", "name", "path", "values")

    def __init__(
        self,
        path: str,
        name: str,
        values: Mapping[str, str],
        files: Mapping[str, str] | None = None,
    ) -> None:
        self.path = path
        self.name = name
        self.values = dict(values)
        #: The file each key was read from (the config file unless said otherwise).
        self.files = dict(files or {})

    def where(self, key: str) -> str:
        """``file [profile NAME] key``: for an error or a -v line."""
        return f"{self.files.get(key, self.path)} [profile {self.name}] {key}"

    def error(self, key: str, expected: str) -> IMDSConfigError:
        return IMDSConfigError(f"{self.where(key)}={self.values[key]!r}: expected {expected}")


def _take(
    parser: Any, section: str, path: str, values: dict[str, str], where: dict[str, str]
) -> bool:
    """Copy the IMDS keys of ``section`` (when ``parser`` has it: True) into ``values``,
    and ``path`` as where each came from."""
    if not parser.has_section(section):
        return False
    for k in KEYS:
        if parser.has_option(section, k):
            values[k] = parser.get(section, k).strip()
            where[k] = path
    return True


def _parse(path: str) -> Any:
    import configparser

    parser = configparser.RawConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise IMDSConfigError(f"{path}: cannot parse: {exc}") from None
    return parser


def read_profile(env: Mapping[str, str], profile: str | None = None) -> Profile:
    """The profile's IMDS keys (none when neither file exists).

    botocore's rule: the config file's ``[profile NAME]`` (or ``[default]``), then the
    credentials file's ``[NAME]`` section updating it; a profile other than ``default``
    found in neither is an error."""
    path = os.path.expanduser(env.get("AWS_CONFIG_FILE") or DEFAULT_CONFIG_FILE)
    creds = os.path.expanduser(env.get("AWS_SHARED_CREDENTIALS_FILE") or DEFAULT_CREDENTIALS_FILE)
    name = profile or env.get("AWS_PROFILE") or "default"
    found = False
    values: dict[str, str] = {}
    where: dict[str, str] = {}
    if os.path.isfile(path):
        parser = _parse(path)
        for candidate in [f"profile {name}", name] if name == "default" else [f"profile {name}"]:
            if _take(parser, candidate, path, values, where):
                found = True
                break
    if os.path.isfile(creds) and _take(_parse(creds), name, creds, values, where):
        found = True
    if not found and name != "default":
        raise IMDSConfigError(f"{path}: profile {name!r} not found (nor in {creds})")
    result = Profile(path, name, values, where)
    for key, value in values.items():
        log.info("%s: %s", result.where(key), value)
    return result
