"""``ec2imds --doctor``: why IMDS does not answer here, one check at a time.

:func:`diagnose` runs the checks in order and returns a :class:`Diagnosis`: one
:class:`Check` per line (``ok``, ``warning`` or ``problem``, a message, and the exact fix
when there is one), the verdict, and the exit status (1 when a problem stops IMDS).

* Without any traffic: the settings (``AWS_EC2_METADATA_DISABLED`` refuses IMDS), whether
  this machine says it is an EC2 instance (DMI, ``/sys/hypervisor/uuid``: ``sys_root`` is
  injectable), proxy variables, ECS/Fargate container variables (``env`` is injectable).
* Each configured endpoint: how long the TCP connect took, then the token PUT. A 403 to
  the PUT and to a plain GET is IMDS turned off (``HttpEndpoint=disabled``); a PUT left
  unanswered while a plain GET is answered is the hop limit (docs/imds.md, 'The hop
  limit').
* With a token, on the first endpoint that issued one: a metadata listing, whether a GET
  without a token is answered (IMDSv1 allowed), instance tags, the IAM role.

It talks to the configured endpoints only, with httpx: no proxies (``trust_env=False``),
no redirects, one attempt per request, the settings' timeout for connect and read; a token
goes back only to the endpoint that issued it and is never printed or stored. The drivers
are not used: their retries, race and token cache would hide what is being diagnosed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from ec2imds._log import log
from ec2imds.endpoints import (
    IPV4_ENDPOINT,
    Endpoint,
    construct_endpoint_list_str,
    construct_endpoint_str,
    endpoint_url,
    is_ipv6,
)
from ec2imds.settings import ENV_DISABLED, Settings

__all__ = [
    "CONTAINER_VARIABLES",
    "PROXY_VARIABLES",
    "SYS_ROOT",
    "Check",
    "Diagnosis",
    "Platform",
    "Status",
    "diagnose",
    "read_platform",
]

Status = Literal["ok", "warning", "problem"]

#: Where the platform files are read from (``class/dmi/id/...``, ``hypervisor/uuid``).
SYS_ROOT = Path("/sys")
#: The proxy variables other tools honour (ec2imds ignores them).
PROXY_VARIABLES = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
)
NO_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")
#: What ``NO_PROXY`` must hold for other tools to reach IMDS directly.
IMDS_NO_PROXY = ("169.254.169.254", "[fd00:ec2::254]")
#: ECS (EC2 and Fargate) task metadata and container credentials: not IMDS.
CONTAINER_VARIABLES = (
    "ECS_CONTAINER_METADATA_URI_V4",
    "ECS_CONTAINER_METADATA_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)

#: The doctor's tokens live a minute: it needs a handful of GETs and keeps nothing.
TOKEN_TTL = 60
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"  # noqa: S105 - a header name
_INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")
_PLACEHOLDER = "<instance-id>"
_MODIFY = "aws ec2 modify-instance-metadata-options --instance-id " + _PLACEHOLDER


def _modify(option: str) -> str:
    return f"{_MODIFY} {option}"


@dataclass(frozen=True)
class Check:
    """One line of the diagnosis."""

    #: What was checked: ``settings``, ``platform``, ``proxy``, ``container``,
    #: ``connect ENDPOINT``, ``token ENDPOINT``, ``metadata``, ``imdsv1``, ``tags``,
    #: ``iam-role``.
    name: str
    status: Status
    message: str
    #: The command or setting that fixes it, when there is one.
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class Diagnosis:
    """The checks in order, and what they add up to."""

    checks: tuple[Check, ...]
    #: The endpoint that issued a token and answered with it, or None.
    endpoint: str | None = None

    @property
    def works(self) -> bool:
        """True when no check found a problem (warnings allowed)."""
        return not any(c.status == "problem" for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.works else 1

    @property
    def verdict(self) -> str:
        problems = sum(c.status == "problem" for c in self.checks)
        warnings = sum(c.status == "warning" for c in self.checks)
        counts = ", ".join(
            f"{n} {word}{'' if n == 1 else 's'}"
            for n, word in ((problems, "problem"), (warnings, "warning"))
            if n
        )
        tail = f" ({counts})" if counts else ""
        if self.works and self.endpoint is not None:
            return f"IMDS works through {self.endpoint}{tail}"
        if self.works:
            return f"no problem found{tail}"
        return f"IMDS does not work here{tail}"

    def to_json(self) -> dict[str, Any]:
        return {
            "works": self.works,
            "verdict": self.verdict,
            "endpoint": self.endpoint,
            "checks": [c.to_json() for c in self.checks],
        }

    def lines(self) -> list[str]:
        """The text report: a line per check, the verdict, then each fix."""
        out = [f"{c.status:<8} {c.name}: {c.message}" for c in self.checks]
        out.append(f"verdict: {self.verdict}")
        for status in ("problem", "warning"):
            out.extend(
                f"fix ({c.name}): {c.fix}"
                for c in self.checks
                if c.status == status and c.fix is not None
            )
        return out


# -- the machine ------------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    """What this machine's files say: an EC2 instance (True), not one (False), or cannot
    tell (None), and why."""

    on_ec2: bool | None
    evidence: str
    #: The instance ID of a Nitro instance's DMI board asset tag.
    instance_id: str | None = None


def _read(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read(256).decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return None


def read_platform(sys_root: Path) -> Platform:
    """Whether this machine says it is an EC2 instance: the DMI system vendor (``Amazon
    EC2`` on Nitro), board asset tag (the instance ID on Nitro) and BIOS version
    (``...amazon`` on Xen), and ``/sys/hypervisor/uuid`` (``ec2...`` on Xen), each when
    readable (docs/imds.md, 'Telling an EC2 instance')."""
    dmi = sys_root / "class" / "dmi" / "id"
    vendor = _read(dmi / "sys_vendor")
    tag = _read(dmi / "board_asset_tag")
    bios = _read(dmi / "bios_version")
    uuid = _read(sys_root / "hypervisor" / "uuid")
    instance_id = tag if tag is not None and _INSTANCE_ID.fullmatch(tag) else None
    if vendor == "Amazon EC2":
        return Platform(True, "DMI sys_vendor is 'Amazon EC2'", instance_id)
    if instance_id is not None:
        return Platform(True, f"DMI board_asset_tag is {instance_id}", instance_id)
    if uuid is not None and uuid.lower().startswith("ec2"):
        return Platform(True, "/sys/hypervisor/uuid starts with ec2")
    if bios is not None and bios.lower().endswith("amazon"):
        return Platform(True, f"DMI bios_version is {_shown(bios)!r}")
    if vendor:
        return Platform(False, f"DMI sys_vendor is {_shown(vendor)!r}, not 'Amazon EC2'")
    if uuid:
        return Platform(False, "/sys/hypervisor/uuid does not start with ec2")
    return Platform(None, "neither DMI nor /sys/hypervisor/uuid is readable")


def _shown(text: str, limit: int = 64) -> str:
    """Text from elsewhere (a file, a server) made safe to print: one line, no escapes."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the environment --------------------------------------------------------------------


def _proxy_check(env: Mapping[str, str]) -> Check:
    proxies = [n for n in PROXY_VARIABLES if env.get(n, "").strip()]
    if not proxies:
        return Check("proxy", "ok", "no proxy variables")
    existing = [
        item.strip()
        for name in NO_PROXY_VARIABLES
        for item in env.get(name, "").split(",")
        if item.strip()
    ]
    bare = {item.lower().strip("[]") for item in existing}
    missing = [a for a in IMDS_NO_PROXY if "*" not in bare and a.strip("[]") not in bare]
    names = ", ".join(proxies)
    if not missing:
        return Check(
            "proxy",
            "ok",
            f"{names} set; NO_PROXY exempts both IMDS addresses (ec2imds ignores proxies anyway)",
        )
    value = ",".join(dict.fromkeys([*existing, *IMDS_NO_PROXY]))
    return Check(
        "proxy",
        "warning",
        f"{names} set: ec2imds ignores proxy variables, but tools that honour them (curl, "
        "wget, the AWS SDKs) send IMDS requests to the proxy, which cannot reach this "
        "instance's IMDS (or answers with its own host's)",
        f"export NO_PROXY={value}",
    )


def _container_check(env: Mapping[str, str]) -> Check:
    found = [n for n in CONTAINER_VARIABLES if env.get(n, "").strip()]
    if not found:
        return Check("container", "ok", "no ECS or Fargate container variables")
    return Check(
        "container",
        "warning",
        f"{', '.join(found)} set: this is an ECS task (on Fargate or EC2); its own metadata "
        "and credentials come from ECS's task metadata endpoint and container credentials, "
        "not from IMDS (on Fargate there is no instance of yours to ask; on EC2 a task "
        "reaches the instance's IMDS only within the hop limit)",
    )


# -- the requests -----------------------------------------------------------------------


@dataclass
class _Answer:
    """One request's outcome: a status, or how it failed; the connect's duration."""

    status: int | None = None
    body: bytes = b""
    #: ``connect-timeout``, ``connect-error``, ``read-timeout`` or ``error`` (no status).
    failure: str | None = None
    detail: str = ""
    connect: float | None = None
    elapsed: float = 0.0

    @property
    def connected(self) -> bool:
        return self.failure not in ("connect-timeout", "connect-error")


@dataclass
class _Prober:
    settings: Settings
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        timeout = self.settings.timeout
        self.client = httpx.Client(
            trust_env=False,  # never a proxy: a token must reach only its own endpoint
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_keepalive_connections=0),  # each connect is timed
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self, endpoint: Endpoint, method: str, path: str, headers: Mapping[str, str]
    ) -> _Answer:
        answer = _Answer()
        started: list[float] = []

        def trace(event: str, info: Mapping[str, Any]) -> None:
            if event == "connection.connect_tcp.started":
                started.append(time.perf_counter())
            elif event == "connection.connect_tcp.complete" and started:
                answer.connect = time.perf_counter() - started[-1]

        url = endpoint_url(endpoint) + path
        begin = time.perf_counter()
        try:
            with self.client.stream(
                method, url, headers=dict(headers), extensions={"trace": trace}
            ) as response:
                answer.status = response.status_code
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.settings.max_body:
                        break
                answer.body = bytes(body)
        except httpx.ConnectTimeout:
            answer.failure = "connect-timeout"
        except httpx.ConnectError as exc:
            answer.failure, answer.detail = "connect-error", _shown(str(exc) or "refused", 120)
        except httpx.ReadTimeout:
            answer.failure = "read-timeout"
        except httpx.HTTPError as exc:
            answer.failure, answer.detail = "error", _shown(str(exc) or type(exc).__name__, 120)
        answer.elapsed = time.perf_counter() - begin
        outcome = answer.status if answer.status is not None else answer.failure
        log.info("%s %s: %s in %s", method, url, outcome, _ms(answer.elapsed))
        return answer


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _s(seconds: float) -> str:
    return f"{seconds:g} s"


# -- the diagnosis ----------------------------------------------------------------------


@dataclass
class _Endpoint:
    endpoint: Endpoint
    name: str
    put: _Answer
    token: str | None = None
    #: The token's check, or why there is none (when the connect succeeded).
    outcome: Check | None = None
    #: The instance ID, when read without a token (IMDSv1 allowed, no token).
    instance_id: str | None = None


def diagnose(
    settings: Settings,
    *,
    env: Mapping[str, str],
    sys_root: Path | None = None,
) -> Diagnosis:
    """Run every check against ``settings``' endpoints; ``env`` is read for the proxy,
    container and ``AWS_*`` variables, ``sys_root`` (default :data:`SYS_ROOT`) for the
    platform's files."""
    platform = read_platform(SYS_ROOT if sys_root is None else sys_root)
    first = _settings_check(settings, env)
    rest = [_proxy_check(env), _container_check(env)]
    if settings.disabled:
        checks = [first, _platform_check(platform, answered=None, sent=False), *rest]
        return _finish(checks, None, platform.instance_id)
    instance_id = platform.instance_id
    tokened: list[Check] = []
    prober = _Prober(settings)
    try:
        probed = [_probe(prober, ep, settings) for ep in settings.endpoints]
        working = next((p for p in probed if p.token is not None), None)
        if working is not None:
            instance_id = _with_token(prober, working, tokened) or instance_id
        else:
            instance_id = next((p.instance_id for p in probed if p.instance_id), instance_id)
    finally:
        prober.close()
    answered = next((p.name for p in probed if p.put.status is not None), None)
    checks = [first, _platform_check(platform, answered=answered), *rest]
    for p in probed:
        checks += _endpoint_checks(p, works=working is not None, timeout=settings.timeout)
    checks += tokened
    if working is None and not any(c.status == "problem" for c in checks):
        checks.append(Check("metadata", "problem", "no endpoint issued a token"))
    return _finish(checks, working.name if working is not None else None, instance_id)


def _finish(checks: list[Check], endpoint: str | None, instance_id: str | None) -> Diagnosis:
    the_id = instance_id if instance_id is not None else _PLACEHOLDER
    done = tuple(
        c
        if c.fix is None
        else Check(c.name, c.status, c.message, c.fix.replace(_PLACEHOLDER, the_id))
        for c in checks
    )
    return Diagnosis(done, endpoint)


def _settings_check(settings: Settings, env: Mapping[str, str]) -> Check:
    endpoints = construct_endpoint_list_str(settings.endpoints)
    what = (
        f"endpoints {endpoints}; timeout {_s(settings.timeout)} for connect and read; "
        "one attempt per request"
    )
    if settings.disabled:
        return Check(
            "settings",
            "problem",
            f"{ENV_DISABLED}={env.get(ENV_DISABLED, 'true')}: ec2imds (and the AWS SDKs) "
            f"refuse to use IMDS, so nothing was sent to the endpoints {endpoints}",
            f"unset {ENV_DISABLED}",
        )
    return Check("settings", "ok", what)


def _platform_check(platform: Platform, *, answered: str | None, sent: bool = True) -> Check:
    """What the machine says, weighed against whether an endpoint gave an HTTP answer
    (``answered``: its name); ``sent`` is False when nothing was sent."""
    if platform.on_ec2:
        return Check(
            "platform", "ok", f"this machine says it is an EC2 instance ({platform.evidence})"
        )
    if not sent:
        if platform.on_ec2 is None:
            return Check("platform", "ok", f"cannot tell whether this is EC2 ({platform.evidence})")
        return Check("platform", "warning", f"not an EC2 instance ({platform.evidence})")
    if platform.on_ec2 is None:
        if answered is not None:
            return Check("platform", "ok", f"cannot tell whether this is EC2 ({platform.evidence})")
        return Check(
            "platform",
            "warning",
            f"cannot tell whether this is EC2 ({platform.evidence}), and no endpoint gave an "
            "HTTP answer",
        )
    if answered is not None:
        return Check(
            "platform",
            "warning",
            f"not an EC2 instance ({platform.evidence}); {answered} answered: a simulator, "
            "a mock or a proxy, not EC2's IMDS",
        )
    return Check(
        "platform",
        "problem",
        f"not an EC2 instance ({platform.evidence}), and no endpoint gave an HTTP answer: "
        "IMDS exists only on EC2 instances (to try ec2imds elsewhere: ec2imds --simulate)",
    )


def _probe(prober: _Prober, endpoint: Endpoint, settings: Settings) -> _Endpoint:
    name = construct_endpoint_str(endpoint)
    put = prober.request(endpoint, "PUT", "/latest/api/token", {TTL_HEADER: str(TOKEN_TTL)})
    probed = _Endpoint(endpoint, name, put)
    if not put.connected:
        return probed  # graded once every endpoint is known (_endpoint_checks)
    token = put.body.decode("ascii", "replace").strip() if put.status == 200 else ""
    if put.status == 200 and token and token.isprintable():
        probed.token = token
        probed.outcome = Check(f"token {name}", "ok", f"token issued in {_ms(put.elapsed)}")
    else:
        probed.outcome = _token_failure(prober, probed, settings)
    return probed


def _token_failure(prober: _Prober, probed: _Endpoint, settings: Settings) -> Check:
    """Why the token PUT failed, told apart by a GET without a token."""
    put, name = probed.put, f"token {probed.name}"
    plain = prober.request(probed.endpoint, "GET", "/latest/meta-data/", {})
    if put.status == 403:
        if plain.status == 403:
            return Check(
                name,
                "problem",
                "IMDS is turned off for this instance: 403 to the token PUT and to a GET "
                "(HttpEndpoint=disabled)",
                _modify("--http-endpoint enabled"),
            )
        return Check(
            name,
            "problem",
            f"the token PUT was refused (403) while a GET was answered {_status(plain)}: "
            "a PUT through a proxy (X-Forwarded-For) or from a dated path is refused",
        )
    if put.failure == "read-timeout":
        if plain.status == 200:  # IMDSv1: the instance ID for the fix, without a token
            probed.instance_id = _instance_id(
                prober.request(probed.endpoint, "GET", "/latest/meta-data/instance-id", {})
            )
        if plain.status is not None:
            v1 = (
                "IMDSv1 is allowed, so tools that fall back to it work, slowly"
                if plain.status == 200
                else "IMDSv1 is off, so nothing works from here"
            )
            return Check(
                name,
                "problem",
                f"the token PUT got no answer in {_s(settings.timeout)} while a GET without a "
                f"token was answered ({plain.status}): the hop limit drops the PUT's answer "
                f"(1 by default; a container adds a hop); {v1}",
                _modify("--http-put-response-hop-limit 2"),
            )
        return Check(
            name,
            "problem",
            f"connections are accepted but nothing is answered in {_s(settings.timeout)}, "
            "not even a GET: not IMDS (a firewall or a broken proxy in the way?)",
        )
    if put.status is None:
        return Check(name, "problem", f"the token PUT failed: {put.failure} {put.detail}".strip())
    if 300 <= put.status < 400:
        return Check(name, "problem", f"the token PUT was redirected ({put.status}): not IMDS")
    if put.status in (400, 404, 405):
        return Check(
            name,
            "problem",
            f"the token PUT was refused ({put.status}): IMDSv2 is not served there "
            "(a proxy or an emulator without tokens?)",
        )
    if put.status == 429 or put.status >= 500:
        return Check(
            name,
            "problem",
            f"the token PUT was answered {put.status}: IMDS is throttling or failing; run "
            "again in a moment",
        )
    return Check(name, "problem", f"the token PUT was answered {put.status}, not a token")


def _instance_id(answer: _Answer) -> str | None:
    """The instance ID an answer carries, if it looks like one (it goes into a command)."""
    text = answer.body.decode("ascii", "replace").strip() if answer.status == 200 else ""
    return text if _INSTANCE_ID.fullmatch(text) else None


def _status(answer: _Answer) -> str:
    return str(answer.status) if answer.status is not None else f"({answer.failure})"


def _endpoint_checks(p: _Endpoint, *, works: bool, timeout: float) -> list[Check]:
    """An endpoint's connect and token checks. An endpoint that took no connection is a
    warning when another one works, else a problem; the IPv6 endpoint is off unless the
    instance enables it."""
    name = f"connect {p.name}"
    if p.put.connected:
        took = f"connected in {_ms(p.put.connect)}" if p.put.connect is not None else "connected"
        return [Check(name, "ok", took), *([p.outcome] if p.outcome is not None else [])]
    status: Status = "warning" if works else "problem"
    if p.put.failure == "connect-timeout":
        said = f"nothing accepted a connection in {_s(timeout)}"
    else:
        said = f"connection failed ({p.put.detail})"
    fix = None
    if is_ipv6(p.endpoint):
        said += "; the IPv6 endpoint is off unless the instance enables it (Nitro only)"
        fix = _modify("--http-protocol-ipv6 enabled")
    elif p.endpoint == IPV4_ENDPOINT:
        said += ": not on EC2, or IMDS blocked (a firewall, a network namespace)"
    return [Check(name, status, said, fix)]


def _with_token(prober: _Prober, working: _Endpoint, checks: list[Check]) -> str | None:
    """The checks that need a token, on the endpoint that issued it; the instance ID."""
    assert working.token is not None
    auth = {TOKEN_HEADER: working.token}
    ep = working.endpoint
    listing = prober.request(ep, "GET", "/latest/meta-data/", auth)
    if listing.status == 200:
        entries = len(listing.body.splitlines())
        checks.append(Check("metadata", "ok", f"meta-data/ lists {entries} entries"))
    else:
        checks.append(
            Check(
                "metadata",
                "problem",
                f"a GET with the token was answered {_status(listing)}, not the listing",
            )
        )
        return None
    instance_id = _instance_id(prober.request(ep, "GET", "/latest/meta-data/instance-id", auth))
    plain = prober.request(ep, "GET", "/latest/meta-data/", {})
    if plain.status == 200:
        checks.append(
            Check(
                "imdsv1",
                "warning",
                "a GET without a token was answered 200: IMDSv1 is allowed (HttpTokens=optional)",
                _modify("--http-tokens required"),
            )
        )
    elif plain.status == 401:
        checks.append(Check("imdsv1", "ok", "a GET without a token is refused (401): IMDSv2 only"))
    else:
        checks.append(
            Check("imdsv1", "warning", f"a GET without a token was answered {_status(plain)}")
        )
    tags = prober.request(ep, "GET", "/latest/meta-data/tags/instance", auth)
    if tags.status == 200:
        keys = len(tags.body.splitlines())
        checks.append(Check("tags", "ok", f"instance tags in metadata: {keys} keys"))
    elif tags.status == 404:
        checks.append(
            Check(
                "tags",
                "warning",
                "meta-data/tags/instance is 404: tags in metadata are not enabled "
                "(InstanceMetadataTags)",
                _modify("--instance-metadata-tags enabled"),
            )
        )
    else:
        checks.append(Check("tags", "warning", f"meta-data/tags/instance: {_status(tags)}"))
    role = prober.request(ep, "GET", "/latest/meta-data/iam/security-credentials/", auth)
    names = role.body.decode("utf-8", "replace").split() if role.status == 200 else []
    if names:
        checks.append(Check("iam-role", "ok", f"IAM role attached: {_shown(names[0])}"))
    elif role.status in (200, 404):
        checks.append(
            Check(
                "iam-role",
                "warning",
                "no IAM role attached: IMDS serves no credentials, so the AWS SDKs find none here",
                "aws ec2 associate-iam-instance-profile --instance-id "
                f"{_PLACEHOLDER} --iam-instance-profile Name=<instance-profile>",
            )
        )
    else:
        checks.append(
            Check("iam-role", "warning", f"meta-data/iam/security-credentials/: {_status(role)}")
        )
    return instance_id
