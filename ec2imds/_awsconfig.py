"""The AWS config file's IMDS keys, read as botocore reads them.

``AWS_CONFIG_FILE`` (default ``~/.aws/config``) and ``AWS_PROFILE`` (default ``default``):
the ``[default]`` section, or ``[profile NAME]``. A missing file is no error; a named
profile the file lacks is. ``configparser`` is imported only when the file exists (the
command line's start-up budget).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ec2imds._log import log
from ec2imds.errors import IMDSConfigError

__all__ = ["KEYS", "Profile", "read_profile"]

#: The file read when ``AWS_CONFIG_FILE`` is unset (the tests point it elsewhere).
DEFAULT_CONFIG_FILE = "~/.aws/config"

#: The keys read, and the Settings field each feeds.
KEYS = (
    "ec2_metadata_service_endpoint",
    "ec2_metadata_service_endpoint_mode",
    "metadata_service_timeout",
    "metadata_service_num_attempts",
)


class Profile:
    """The IMDS keys of one profile, and where they came from (for error messages)."""

    __slots__ = ("name", "path", "values")

    def __init__(self, path: str, name: str, values: Mapping[str, str]) -> None:
        self.path = path
        self.name = name
        self.values = dict(values)

    def where(self, key: str) -> str:
        """``file [profile NAME] key``: for an error or a -v line."""
        return f"{self.path} [profile {self.name}] {key}"

    def error(self, key: str, expected: str) -> IMDSConfigError:
        return IMDSConfigError(f"{self.where(key)}={self.values[key]!r}: expected {expected}")


def read_profile(env: Mapping[str, str], profile: str | None = None) -> Profile:
    """The profile's IMDS keys (none when the file is missing)."""
    path = os.path.expanduser(env.get("AWS_CONFIG_FILE") or DEFAULT_CONFIG_FILE)
    name = profile or env.get("AWS_PROFILE") or "default"
    if not os.path.isfile(path):
        return Profile(path, name, {})
    import configparser

    parser = configparser.RawConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise IMDSConfigError(f"{path}: cannot parse: {exc}") from None
    section = None
    for candidate in [f"profile {name}", name] if name == "default" else [f"profile {name}"]:
        if parser.has_section(candidate):
            section = candidate
            break
    if section is None:
        if name == "default":
            return Profile(path, name, {})
        raise IMDSConfigError(f"{path}: profile {name!r} not found")
    values = {k: parser.get(section, k).strip() for k in KEYS if parser.has_option(section, k)}
    for key, value in values.items():
        log.info("%s: %s", Profile(path, name, values).where(key), value)
    return Profile(path, name, values)
