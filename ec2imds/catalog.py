"""The IMDS category catalog: the single source of truth for every path ec2imds knows.

Plain data, standard library only, cheap to import (the CLI lists categories from it at
start-up).  Everything else is derived from it:

* ``python -m codegen.generate`` writes the models in ``ec2imds/models/``, ``value()``'s
  typed overloads and the JSON Schemas in ``schema/`` from :data:`ENTRIES` and
  :data:`JSON_SHAPES` (``present`` decides what is required);
* :func:`default_tree` builds the simulator's default instance (and the sample in docs/cli.md)
  from the entries' example values, so the two can never drift;
* :func:`match` maps a concrete IMDS path to its entry (``value(path)``, the CLI).

Paths are relative to ``/latest/`` and use placeholders for the parts IMDS names per
instance: ``{mac}``, ``{ip}``, ``{role}``, ``{index}``, ``{key}``, ``{device}``, ``{id}``.
An example for a placeholder path is a dict keyed by the placeholder's binding (a tuple of
bindings when the path has two placeholders), so the default instance can have, say, two
network interfaces with different values.

Kinds of entry:

``text``   a UTF-8 string, surrounding whitespace stripped
``int``    a decimal integer
``lines``  an LF-separated list (CRLF, blank lines and a trailing newline tolerated)
``json``   a JSON document (IMDS serves it as ``text/plain``)
``bytes``  raw bytes (only ``user-data``)
``dir``    a directory with fixed child names (a model)
``map``    a directory keyed by its listing (a ``dict`` in the model)

``volatile`` entries can change while the instance runs (spot, events, autoscaling, IAM and
identity credentials, tags, security groups, instance-action, and the addresses an
Elastic IP, a secondary IP, an IPv6 address or a prefix attached later changes): a client
re-reads them every time and never caches them.

``present="always"`` marks what EC2 serves on every instance (docs/imds.md, 'What every
instance serves': the categories of the docs' oldest listings, and the identity document's
keys), each with its ``evidence``:
the models type these without ``None``, the JSON Schema requires them, and a 404 for one is
an error naming the path.  Everything else may be absent (``absent`` says when), including
categories newer than an instance's launch: Nitro instances serve only the categories that
existed when they launched (``placement/region`` is 404 on old instances).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from typing_extensions import TypeAlias

__all__ = [
    "ENTRIES",
    "JSON_SHAPES",
    "Entry",
    "JsonField",
    "JsonShape",
    "Kind",
    "Node",
    "Presence",
    "always_present",
    "default_tree",
    "entry",
    "leaf_text",
    "match",
    "subtree_volatile",
    "top_level",
]

Kind: TypeAlias = Literal["text", "int", "lines", "json", "bytes", "dir", "map"]
Presence: TypeAlias = Literal["always", "maybe"]
Node: TypeAlias = "str | bytes | dict[str, Node]"
"""The tree format shared with the simulator: a dict is a directory (key order = listing
order), a str is a text leaf (JSON documents as JSON text, lists ``\\n``-joined), bytes is
``user-data``.  Public keys are keyed ``"0=my-key"`` with a dict value
``{"openssh-key": "ssh-rsa ..."}``."""

#: ``ec2imds._compat.SLOTS`` (slotted where dataclasses can be: Python 3.10+), not imported:
#: the simulator's start-up imports this module, and nothing more than it did.
_SLOTS: dict[str, bool] = {"slots": True} if sys.version_info >= (3, 10) else {}


@dataclass(frozen=True, **_SLOTS)
class Entry:
    """One IMDS path (leaf or directory) and everything ec2imds knows about it."""

    path: str
    """Relative to ``/latest/``, with placeholders (``meta-data/placement/region``)."""
    kind: Kind
    type: str
    """The Python type as used in the model (``str``, ``list[IPv4Address]``, ``Placement``,
    ``dict[MAC, NetworkInterface]``)."""
    description: str
    since: str
    """The metadata build that introduced the path (best knowledge), or ``latest`` when
    it is newer than the last dated build AWS lists."""
    volatile: bool = False
    absent: str = ""
    """When IMDS answers 404 for it; empty when it is always served."""
    example: object = None
    """An example value (a dict keyed by binding for placeholder paths).  ``json`` examples
    are Python objects; ``lines`` examples are lists; for a ``dir`` under a placeholder in a
    ``public-keys`` style listing, the example is the listed name per binding."""
    absent_by_default: bool = False
    """The default instance does not serve it; ``example`` still shows what it looks like."""
    model: str = ""
    """For ``dir`` entries: the generated model class."""
    module: str = ""
    """For ``dir`` entries: the generated module (``ec2imds/models/<module>.py``)."""
    listing: Literal["", "index=name"] = ""
    """For ``map`` entries whose listing is ``<index>=<name>`` (``public-keys/``)."""
    exact: bool = False
    """For ``text`` entries: keep the value exactly (no whitespace stripping)."""
    present: Presence = "maybe"
    """``always``: EC2 serves it on every instance (docs/imds.md, 'What every instance
    serves').  The models type it without ``None``, the JSON Schema requires it, and a 404
    for it is an error naming the path.  ``maybe``: it can be absent (``absent`` says when)."""
    primary: str = ""
    """For a leaf that names an entry of a keyed directory (``meta-data/mac`` names device
    0's interface under ``meta-data/network/interfaces/macs``): that directory's path.  The
    generator gives the leaf's own directory a ``primary_<name>`` property (``name``: see
    :attr:`primary_name`) returning that entry as the ``Primary<Model>`` model or view,
    whose ``present_on_primary`` fields are typed without ``None``."""
    primary_name: str = ""
    """With :attr:`primary`: the property's name (``primary_interface``)."""
    present_on_primary: bool = False
    """For a leaf of a keyed directory's entry: EC2 serves it for the entry the
    :attr:`primary` leaf names (device 0's interface, which cannot be detached: docs/imds.md,
    'The interface the instance launched with'), even where another entry can lack it
    (``absent`` says when).  ``Primary<Model>`` types it without ``None``, and a 404 for it
    there is an error naming the path."""
    evidence: str = ""
    """Why ``present`` is ``always``: the source (required for ``always``)."""

    @property
    def name(self) -> str:
        """The last path segment (``region``, ``{mac}``)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str:
        """The path of the directory holding this entry (``""`` for the roots)."""
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The placeholder names in the path, in order (``("mac", "ip")``)."""
        return tuple(re.findall(r"\{(\w+)\}", self.path))

    @property
    def is_leaf(self) -> bool:
        """True for a value (not ``dir`` or ``map``)."""
        return self.kind not in ("dir", "map")


@dataclass(frozen=True, **_SLOTS)
class JsonField:
    """One key of a JSON document IMDS serves."""

    key: str
    type: str
    """The Python type: ``str``, ``int``, ``datetime``, ``SecretStr``, ``list[str]``,
    ``Literal['a', 'b']``, ``str | None`` ..."""
    description: str
    format: Literal["", "iso", "imds-time"] = ""
    """For ``datetime``: ``iso`` (``2024-05-01T12:00:00Z``) or ``imds-time``
    (``21 Jan 2019 09:00:43 GMT``)."""
    present: Presence = "maybe"
    """``always``: every document IMDS serves at this path has the key (the model requires
    it); ``maybe``: it can be missing (error bodies carry only ``Code``/``Message``)."""
    evidence: str = ""
    """Why ``present`` is ``always``: the source (required for ``always``)."""


@dataclass(frozen=True, **_SLOTS)
class JsonShape:
    """A JSON document's shape; becomes a model.  A key is optional unless its field says
    ``present="always"`` (IMDS error bodies carry only ``Code``/``Message``); unknown keys
    are kept."""

    name: str
    module: str
    path: str
    """The catalog path of the leaf holding the document (first one, if several)."""
    description: str
    fields: tuple[JsonField, ...]
    volatile: bool = False
    base: str = "IMDSModel"
    """The model's base class, from ``ec2imds/models/_base.py`` (behaviour the generator
    does not write, such as ``CredentialsModel.require()``)."""


# ---------------------------------------------------------------------------------------
# The default instance: every example below derives from these, so it stays consistent.
ACCOUNT = "123456789012"
REGION = "us-east-1"
AZ = "us-east-1a"
AZ_ID = "use1-az4"
INSTANCE_ID = "i-0123456789abcdef0"
INSTANCE_TYPE = "m5.large"
IMAGE_ID = "ami-0abcdef1234567890"
ROLE = "my-app-role"
MAC0 = "0e:49:61:0f:c3:11"
MAC1 = "0e:49:61:0f:c3:22"
PRIVATE_IP = "10.0.1.23"
PUBLIC_IP = "54.210.1.23"
IPV6 = "2600:1f18:1234:5601::a1"
HOSTNAME = "ip-10-0-1-23.ec2.internal"
PUBLIC_HOSTNAME = "ec2-54-210-1-23.compute-1.amazonaws.com"
SG_NAMES = ["web", "default"]
SG_IDS = ["sg-0a1b2c3d4e5f60001", "sg-0a1b2c3d4e5f60002"]
LAUNCHED = "2024-05-01T11:58:12Z"
UPDATED = "2024-05-01T12:00:00Z"
EXPIRES = "2024-05-01T18:00:00Z"
VPC_ID = "vpc-0a1b2c3d4e5f60700"
USER_DATA = (
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03SN\xce\xc9/M\xd1M\xce\xcfK\xcbL\xe7*HL\xceNLO-"
    b"\xb6\xe2RP\xd0U\xc8K\xcf\xcc\xab\xe0**\xcdK\xceM\x81\x88D\x17W\x16\x97\xa4\xe6&\x97\xe4"
    b'\xe8(\xa4\xe6%&\xe5\xa4\xea(\xe8\xea\xe6\xe5\x97\xeb@\x14\xc7r\x01\x00E\x1e\x15"P\x00\x00'
    b"\x00"
)
"""gzip of a small ``#cloud-config`` (binary, contains NUL bytes), as IMDS serves it."""


def _creds(key_id: str, *, extended: bool = False) -> dict[str, object]:
    doc: dict[str, object] = {
        "Code": "Success",
        "LastUpdated": UPDATED,
        "Type": "AWS-HMAC",
        "AccessKeyId": key_id,
        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "Token": "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMSJHMEUCIQD",
        "Expiration": EXPIRES,
    }
    if extended:
        doc["AccountId"] = ACCOUNT
    return doc


def _b64(seed: str, lines: int) -> str:
    """A deterministic fake base64 blob, wrapped at 64 columns like IMDS's pkcs7."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out: list[str] = []
    n = sum(map(ord, seed))
    for _ in range(lines):
        row = []
        for _ in range(64):
            n = (n * 1103515245 + 12345) % 2**31
            row.append(alphabet[(n >> 16) % 64])
        out.append("".join(row))
    return "\n".join(out)


_IDENTITY_DOCUMENT = {
    "accountId": ACCOUNT,
    "architecture": "x86_64",
    "availabilityZone": AZ,
    "billingProducts": None,
    "devpayProductCodes": None,
    "marketplaceProductCodes": None,
    "imageId": IMAGE_ID,
    "instanceId": INSTANCE_ID,
    "instanceType": INSTANCE_TYPE,
    "kernelId": None,
    "pendingTime": LAUNCHED,
    "privateIp": PRIVATE_IP,
    "ramdiskId": None,
    "region": REGION,
    "version": "2017-09-30",
}

_MD = "meta-data"
_ENI = "meta-data/network/interfaces/macs/{mac}"
_V = True  # volatile
_A: Presence = "always"  # present on every instance (with its evidence)
# Evidence (docs/imds.md, 'What every instance serves', and the sources it names):
_EVERY = "docs/imds.md, 'What every instance serves'"
_OLDEST = (
    f"{_EVERY}: in the AWS docs' oldest listings; served by every instance (the docs' "
    "category table has no 404 for it)"
)
_HOLDS = _EVERY + ": '{}' is served by every instance, and this is what it holds"
_IID = f"{_EVERY}: in every identity document (aws-sdk-go-v2 types it as a string)"
#: Why a category newer than the oldest listings can be 404 (docs/imds.md, 'Categories
#: newer than the instance').
_NEWER = "instances launched before it existed (Nitro serves only the categories of its launch)"
_HOTPLUG = "can be empty or 404 just after a hot-plug (amazon-ec2-net-utils PR #153)"
_DETAILS = "docs/imds.md, 'Category details'"
_EVENT = f"{_DETAILS}: in every maintenance event (NotAfter and NotBeforeDeadline are optional)"
_SPOT = (
    f"{_DETAILS}: the notice is {{'action', 'time'}} (UG spot-instance-termination-notices, AEMM)"
)

ENTRIES: tuple[Entry, ...] = (
    # -- roots ---------------------------------------------------------------------------
    Entry("", "dir", "InstanceMetadata", "Everything IMDS serves under /latest/.", "1.0",
          model="InstanceMetadata", module="instance"),
    Entry("meta-data", "dir", "MetaData", "The instance metadata categories.", "1.0",
          model="MetaData", module="instance", present=_A, evidence=_OLDEST),
    Entry("dynamic", "dir", "Dynamic", "Dynamic data: identity document, monitoring.",
          "2009-04-04", model="Dynamic", module="dynamic", present=_A,
          evidence=_HOLDS.format("dynamic/instance-identity/document")),
    Entry("user-data", "bytes", "bytes",
          "User data given at launch, byte for byte (often gzip or MIME multipart; at most "
          "16 KB).", "1.0", absent="no user data was given", example=USER_DATA),
    # -- meta-data leaves ----------------------------------------------------------------
    Entry(f"{_MD}/ami-id", "text", "str", "The AMI used to launch the instance.", "1.0",
          example=IMAGE_ID, present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/ami-launch-index", "int", "int",
          "0-based launch order within the reservation.", "1.0", example=0, present=_A,
          evidence=_OLDEST),
    Entry(f"{_MD}/ami-manifest-path", "text", "str",
          "S3 manifest of the AMI; '(unknown)' when EBS-backed.", "1.0", example="(unknown)",
          present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/ancestor-ami-ids", "lines", "list[str]",
          "AMIs rebundled to create this AMI.", "2007-10-10", absent="usually absent",
          example=["ami-0aaaaaaaaaaaaaaa1"], absent_by_default=True),
    Entry(f"{_MD}/hostname", "text", "str",
          "Private DNS name of device 0 (IP-based or resource-based).", "1.0",
          example=HOSTNAME, present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/instance-action", "text", "str",
          "Pending bundle/shutdown action: 'none', 'shutdown', 'bundle-pending'.",
          "2008-09-01", volatile=_V, example="none", present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/instance-id", "text", "str", "The instance ID.", "1.0",
          example=INSTANCE_ID, present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/instance-life-cycle", "text", "str",
          "Purchasing option: 'on-demand', 'spot' (historically 'scheduled'); an open set.",
          "2019-10-01", absent=_NEWER, example="on-demand"),
    Entry(f"{_MD}/instance-type", "text", "str", "The instance type.", "2007-08-29",
          example=INSTANCE_TYPE, present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/ipv6", "text", "IPv6Address", "First IPv6 address of device 0.",
          "2021-01-03", volatile=_V, absent="no IPv6 address on device 0", example=IPV6),
    Entry(f"{_MD}/kernel-id", "text", "str", "Kernel ID (paravirtual instances).",
          "2008-02-01", absent="usually absent (HVM)", example="aki-0a1b2c3d",
          absent_by_default=True),
    Entry(f"{_MD}/local-hostname", "text", "str", "Private DNS name of device 0.",
          "2007-01-19", example=HOSTNAME, present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/local-ipv4", "text", "IPv4Address", "Private IPv4 address of device 0.",
          "1.0", absent="IPv6-only instance", example=PRIVATE_IP),
    Entry(f"{_MD}/mac", "text", "MAC", "MAC address of device 0.", "2011-01-01",
          example=MAC0, present=_A, evidence=_OLDEST,
          primary=f"{_MD}/network/interfaces/macs", primary_name="primary_interface"),
    Entry(f"{_MD}/product-codes", "lines", "list[str]",
          "Marketplace product codes.", "2007-03-01", absent="usually absent",
          example=["aw0evgkw8e5c1q413zgy5pjce"], absent_by_default=True),
    Entry(f"{_MD}/profile", "text", "str",
          "Undocumented virtualisation profile, e.g. 'default-hvm'.  Opaque.", "latest",
          absent="may be absent (undocumented; Amazon's mock serves none)",
          example="default-hvm"),
    Entry(f"{_MD}/public-hostname", "text", "str",
          "Public DNS name of device 0 (needs enableDnsHostnames).", "2007-01-19",
          volatile=_V, absent="no public IPv4 address", example=PUBLIC_HOSTNAME),
    Entry(f"{_MD}/public-ipv4", "text", "IPv4Address",
          "Public IPv4 address of device 0 (the Elastic IP if one is attached).",
          "2007-01-19", volatile=_V, absent="no public IPv4 address", example=PUBLIC_IP),
    Entry(f"{_MD}/ramdisk-id", "text", "str", "RAM disk ID (paravirtual instances).",
          "2007-10-10", absent="usually absent (HVM)", example="ari-0a1b2c3d",
          absent_by_default=True),
    Entry(f"{_MD}/reservation-id", "text", "str", "The reservation ID.", "1.0",
          example="r-0a1b2c3d4e5f60718", present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/security-groups", "lines", "list[str]",
          "Names of the security groups of device 0 (updated live).", "1.0",
          volatile=_V, example=SG_NAMES, present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/system", "text", "str",
          "Undocumented; reportedly the platform type (e.g. 'nitro').  Opaque.", "latest",
          absent="may be absent", example="nitro"),
    # -- autoscaling ---------------------------------------------------------------------
    Entry(f"{_MD}/autoscaling", "dir", "Autoscaling", "Auto Scaling lifecycle.",
          "2021-07-15", volatile=_V, absent="not in an Auto Scaling group",
          absent_by_default=True, model="Autoscaling", module="autoscaling"),
    Entry(f"{_MD}/autoscaling/target-lifecycle-state", "text", "str",
          "Target lifecycle state: 'Detached', 'InService', 'Standby', 'Terminated', "
          "'Warmed:Hibernated', 'Warmed:Running', 'Warmed:Stopped', 'Warmed:Terminated'; "
          "an open set.", "2021-07-15", volatile=_V,
          absent="not in an Auto Scaling group, or no transition yet", example="InService",
          absent_by_default=True),
    # -- block devices -------------------------------------------------------------------
    Entry(f"{_MD}/block-device-mapping", "map", "dict[str, str]",
          "Virtual device name (ami, root, ebsN, ephemeralN, swap) to device name.",
          "2007-12-15", present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/block-device-mapping/{{device}}", "text", "str",
          "Device name of a virtual device.  EBS volumes appear only if attached at launch "
          "or at the last start.", "2007-12-15", absent="device absent",
          example={"ami": "/dev/xvda", "ebs1": "sdf", "ephemeral0": "sdb",
                   "root": "/dev/xvda"}),
    # -- elastic gpus / inference --------------------------------------------------------
    Entry(f"{_MD}/elastic-gpus", "dir", "ElasticGpus", "Elastic Graphics (retired).",
          "2016-11-30", absent="no Elastic GPU (the service is retired)", absent_by_default=True,
          model="ElasticGpus", module="elastic"),
    Entry(f"{_MD}/elastic-gpus/associations", "map", "dict[str, dict[str, Any]]",
          "Elastic GPU ID to its association document.", "2016-11-30",
          absent="no Elastic GPU", absent_by_default=True),
    Entry(f"{_MD}/elastic-gpus/associations/{{id}}", "json", "dict[str, Any]",
          "Association document of an Elastic GPU (service retired; shape kept open).",
          "2016-11-30", absent="no Elastic GPU", absent_by_default=True,
          example={"egpu-0123456789abcdef0": {"version_2016_11_30": {
              "elastic-gpu-id": "egpu-0123456789abcdef0",
              "elastic-gpu-type": "eg1.medium"}}}),
    Entry(f"{_MD}/elastic-inference", "dir", "ElasticInference",
          "Elastic Inference (retired).", "2018-11-29",
          absent="no accelerator (the service is retired)", absent_by_default=True,
          model="ElasticInference", module="elastic"),
    Entry(f"{_MD}/elastic-inference/associations", "map", "dict[str, dict[str, Any]]",
          "Elastic Inference accelerator ID to its association document.", "2018-11-29",
          absent="no accelerator", absent_by_default=True),
    Entry(f"{_MD}/elastic-inference/associations/{{id}}", "json", "dict[str, Any]",
          "Association document of an accelerator (service retired; shape kept open).",
          "2018-11-29", absent="no accelerator", absent_by_default=True,
          example={"eia-0123456789abcdef0": {"version_2018_04_12": {
              "elastic-inference-accelerator-id": "eia-0123456789abcdef0",
              "elastic-inference-accelerator-type": "eia1.medium"}}}),
    # -- events --------------------------------------------------------------------------
    Entry(f"{_MD}/events", "dir", "Events", "Scheduled events and recommendations.",
          "2018-08-17", absent=_NEWER, model="Events", module="events"),
    Entry(f"{_MD}/events/maintenance", "dir", "Maintenance", "Scheduled maintenance.",
          "2018-08-17", absent=_NEWER, model="Maintenance", module="events"),
    Entry(f"{_MD}/events/maintenance/history", "json", "list[MaintenanceEvent]",
          "Completed or canceled maintenance events.", "2018-08-17", volatile=_V,
          absent="none (an empty list is also reported)",
          example=[{
              "NotBefore": "21 Jan 2019 09:00:43 GMT",
              "Code": "system-reboot",
              "Description": "[Completed] scheduled reboot",
              "EventId": "instance-event-0d59937288b749b32",
              "NotAfter": "21 Jan 2019 09:17:23 GMT",
              "State": "completed",
          }]),
    Entry(f"{_MD}/events/maintenance/scheduled", "json", "list[MaintenanceEvent]",
          "Active maintenance events.", "2018-08-17", volatile=_V,
          absent="none (an empty list is also reported)", example=[]),
    Entry(f"{_MD}/events/recommendations", "dir", "Recommendations",
          "Event recommendations.", "2020-10-27", absent="until a recommendation is emitted",
          absent_by_default=True,
          model="Recommendations", module="events"),
    Entry(f"{_MD}/events/recommendations/rebalance", "json", "RebalanceRecommendation",
          "Spot rebalance recommendation signal.", "2020-10-27", volatile=_V,
          absent="until the signal is emitted (spot only)", absent_by_default=True,
          example={"noticeTime": "2024-05-01T14:30:00Z"}),
    # -- iam -----------------------------------------------------------------------------
    Entry(f"{_MD}/iam", "dir", "Iam", "The instance profile and its role credentials.",
          "2012-01-12", volatile=_V, absent="no instance profile", model="Iam",
          module="iam"),
    Entry(f"{_MD}/iam/info", "json", "IamInfo",
          "The instance profile (volatile: a profile can be replaced at runtime).",
          "2012-01-12", volatile=_V, absent="no instance profile",
          example={
              "Code": "Success",
              "LastUpdated": UPDATED,
              "InstanceProfileArn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{ROLE}",
              "InstanceProfileId": "AIPAEXAMPLEPROFILEID01",
          }),
    Entry(f"{_MD}/iam/security-credentials", "map", "dict[str, IamCredentials]",
          "Role name to its temporary credentials.", "2012-01-12", volatile=_V,
          absent="no role"),
    Entry(f"{_MD}/iam/security-credentials/{{role}}", "json", "IamCredentials",
          "Temporary credentials of the role (or a Code/Message error body).",
          "2012-01-12", volatile=_V, absent="no such role",
          example={ROLE: _creds("ASIAEXAMPLEKEYID0001")}),
    Entry(f"{_MD}/iam/security-credentials-extended", "map",
          "dict[str, IamCredentialsExtended]",
          "Role name to its credentials with AccountId (newer builds; SDKs try it first).",
          "latest", volatile=_V, absent="no role, or an older build"),
    Entry(f"{_MD}/iam/security-credentials-extended/{{role}}", "json",
          "IamCredentialsExtended", "Temporary credentials of the role, with AccountId.",
          "latest", volatile=_V, absent="no such role, or an older build",
          example={ROLE: _creds("ASIAEXAMPLEKEYID0001", extended=True)}),
    # -- identity credentials ------------------------------------------------------------
    Entry(f"{_MD}/identity-credentials", "dir", "IdentityCredentials",
          "Instance identity role credentials.", "2018-05-23", volatile=_V, absent=_NEWER,
          model="IdentityCredentials", module="iam"),
    Entry(f"{_MD}/identity-credentials/ec2", "dir", "IdentityCredentialsEc2",
          "EC2 instance identity role.", "2018-05-23", volatile=_V, absent=_NEWER,
          model="IdentityCredentialsEc2", module="iam"),
    Entry(f"{_MD}/identity-credentials/ec2/info", "json", "IdentityCredentialsInfo",
          "Status of the identity credentials.", "2018-05-23", volatile=_V, absent=_NEWER,
          example={"Code": "Success", "LastUpdated": UPDATED, "AccountId": ACCOUNT}),
    Entry(f"{_MD}/identity-credentials/ec2/security-credentials", "dir",
          "IdentityCredentialsEc2SecurityCredentials", "Identity role credentials.",
          "2018-05-23", volatile=_V, absent=_NEWER,
          model="IdentityCredentialsEc2SecurityCredentials", module="iam"),
    Entry(f"{_MD}/identity-credentials/ec2/security-credentials/ec2-instance", "json",
          "IamCredentials",
          "Credentials of the identity role (no permissions; used by Instance Connect, SSM).",
          "2018-05-23", volatile=_V, absent=_NEWER, example=_creds("ASIAEXAMPLEIDENTITY01")),
    # -- hibernation ---------------------------------------------------------------------
    Entry(f"{_MD}/hibernation", "dir", "Hibernation", "Hibernation, when configured at launch.",
          "latest", absent="hibernation not configured", absent_by_default=True,
          model="Hibernation", module="hibernation"),
    Entry(f"{_MD}/hibernation/configured", "text", "bool",
          "True when the instance was launched with hibernation enabled ('true'/'false').",
          "latest", absent="hibernation not configured (aws/amazon-ec2-hibinit-agent)",
          example=True, absent_by_default=True),
    # -- metrics -------------------------------------------------------------------------
    Entry(f"{_MD}/metrics", "dir", "Metrics",
          "Metrics (still in documented listings; no longer populated).", "2011-05-01",
          absent="no longer served on most instances", absent_by_default=True,
          model="Metrics", module="metrics"),
    Entry(f"{_MD}/metrics/vhostmd", "text", "str",
          "vhostmd XML (an '<?xml ...' body on old instances; no longer populated).",
          "2011-05-01", absent="no longer served on most instances",
          example='<?xml version="1.0" encoding="UTF-8"?>', absent_by_default=True),
    # -- network -------------------------------------------------------------------------
    Entry(f"{_MD}/network", "dir", "Network", "Network configuration.", "2011-01-01",
          model="Network", module="network", present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/network/interfaces", "dir", "NetworkInterfaces", "Network interfaces.",
          "2011-01-01", model="NetworkInterfaces", module="network", present=_A,
          evidence=_HOLDS.format("meta-data/network/")),
    Entry(f"{_MD}/network/interfaces/macs", "map", "dict[MAC, NetworkInterface]",
          "MAC address to network interface (one per ENI); interfaces can be attached and "
          "detached while the instance runs.", "2011-01-01", volatile=_V, present=_A,
          evidence=_HOLDS.format("meta-data/network/") + " (device 0's 'mac' is always "
          "served, so the listing names at least that interface)"),
    Entry(_ENI, "dir", "NetworkInterface", "One network interface (ENI).", "2011-01-01",
          absent="detached", model="NetworkInterface", module="network"),
    Entry(f"{_ENI}/device-number", "int", "int",
          "Device number (the API's DeviceIndex).", "2011-01-01", absent=_HOTPLUG,
          present_on_primary=True, example={MAC0: 0, MAC1: 1}),
    Entry(f"{_ENI}/interface-id", "text", "str", "The ENI ID.", "2011-01-01",
          absent=_HOTPLUG, present_on_primary=True,
          example={MAC0: "eni-0a1b2c3d4e5f60001", MAC1: "eni-0a1b2c3d4e5f60002"}),
    Entry(f"{_ENI}/ipv4-associations", "map", "dict[IPv4Address, list[IPv4Address]]",
          "Public IPv4 address to the private IPv4 addresses it maps to.", "2011-01-01",
          volatile=_V, absent="no public IPv4 address"),
    Entry(f"{_ENI}/ipv4-associations/{{ip}}", "lines", "list[IPv4Address]",
          "Private IPv4 addresses mapped to this public address.", "2011-01-01",
          volatile=_V, absent="no such association", example={(MAC0, PUBLIC_IP): [PRIVATE_IP]}),
    Entry(f"{_ENI}/ipv4-prefix", "lines", "list[IPv4Network]",
          "Delegated IPv4 prefixes (e.g. /28).", "latest", volatile=_V, absent="no prefixes",
          example={MAC0: ["10.0.1.48/28"], MAC1: ["10.0.2.64/28"]}),
    Entry(f"{_ENI}/ipv6-prefix", "lines", "list[IPv6Network]",
          "Delegated IPv6 prefixes (e.g. /80).", "latest", volatile=_V, absent="no prefixes",
          example={MAC0: ["2600:1f18:1234:5601:1::/80"],
                   MAC1: ["2600:1f18:1234:5602:2::/80"]}),
    Entry(f"{_ENI}/ipv6s", "lines", "list[IPv6Address]", "IPv6 addresses.", "2016-06-30",
          volatile=_V, absent="no IPv6 address",
          example={MAC0: [IPV6], MAC1: ["2600:1f18:1234:5602::b2"]}),
    Entry(f"{_ENI}/local-hostname", "text", "str", "Private DNS name.", "2011-01-01",
          absent=_HOTPLUG, example={MAC0: HOSTNAME, MAC1: "ip-10-0-2-45.ec2.internal"}),
    Entry(f"{_ENI}/local-ipv4s", "lines", "list[IPv4Address]",
          "Private IPv4 addresses (primary first).", "2011-01-01", volatile=_V,
          absent="IPv6-only interface",
          example={MAC0: [PRIVATE_IP, "10.0.1.24"], MAC1: ["10.0.2.45"]}),
    Entry(f"{_ENI}/mac", "text", "MAC", "MAC address.", "2011-01-01", absent=_HOTPLUG,
          present_on_primary=True, example={MAC0: MAC0, MAC1: MAC1}),
    Entry(f"{_ENI}/network-card", "int", "int",
          "Network card index, as live multi-card instances (p4d, p5, trn1) name it; the docs "
          "and AEMM say network-card-index.", "latest",
          absent="most instance types (one network card)", example={MAC0: 0, MAC1: 1},
          absent_by_default=True),
    Entry(f"{_ENI}/network-card-index", "int", "int",
          "Network card index, as the docs and AEMM name it (live multi-card instances serve "
          "network-card).", "2020-11-01", absent="most instance types (one network card)",
          example={MAC0: 0, MAC1: 1}, absent_by_default=True),
    Entry(f"{_ENI}/owner-id", "text", "str", "Account that owns the interface.",
          "2011-01-01", absent=_HOTPLUG, present_on_primary=True,
          example={MAC0: ACCOUNT, MAC1: ACCOUNT}),
    Entry(f"{_ENI}/public-hostname", "text", "str",
          "Public DNS name (needs enableDnsHostnames).", "2011-01-01", volatile=_V,
          absent="no public IPv4 address", example={MAC0: PUBLIC_HOSTNAME}),
    Entry(f"{_ENI}/public-ipv4s", "lines", "list[IPv4Address]",
          "Public IPv4 addresses.", "2011-01-01", volatile=_V, absent="no public IPv4 address",
          example={MAC0: [PUBLIC_IP]}),
    Entry(f"{_ENI}/security-group-ids", "lines", "list[str]",
          "Security group IDs (updated live).", "2011-01-01", volatile=_V,
          absent=_HOTPLUG, example={MAC0: SG_IDS, MAC1: ["sg-0a1b2c3d4e5f60003"]}),
    Entry(f"{_ENI}/security-groups", "lines", "list[str]",
          "Security group names (updated live).", "2011-01-01", volatile=_V,
          absent=_HOTPLUG, example={MAC0: SG_NAMES, MAC1: ["internal"]}),
    Entry(f"{_ENI}/subnet-id", "text", "str", "Subnet ID.", "2011-01-01", absent=_HOTPLUG,
          present_on_primary=True,
          example={MAC0: "subnet-0a1b2c3d4e5f60101", MAC1: "subnet-0a1b2c3d4e5f60102"}),
    Entry(f"{_ENI}/subnet-ipv4-cidr-block", "text", "IPv4Network",
          "IPv4 CIDR block of the subnet.", "2011-01-01", absent="may be absent on IPv6-only",
          example={MAC0: "10.0.1.0/24", MAC1: "10.0.2.0/24"}),
    Entry(f"{_ENI}/subnet-ipv6-cidr-blocks", "lines", "list[IPv6Network]",
          "IPv6 CIDR blocks of the subnet.", "2016-06-30", absent="no IPv6 block",
          example={MAC0: ["2600:1f18:1234:5601::/64"], MAC1: ["2600:1f18:1234:5602::/64"]}),
    Entry(f"{_ENI}/vpc-id", "text", "str", "VPC ID.", "2011-01-01", absent=_HOTPLUG,
          present_on_primary=True, example={MAC0: VPC_ID, MAC1: VPC_ID}),
    Entry(f"{_ENI}/vpc-ipv4-cidr-block", "text", "IPv4Network",
          "Primary IPv4 CIDR block of the VPC.", "2011-01-01",
          absent="may be absent on IPv6-only",
          example={MAC0: "10.0.0.0/16", MAC1: "10.0.0.0/16"}),
    Entry(f"{_ENI}/vpc-ipv4-cidr-blocks", "lines", "list[IPv4Network]",
          "IPv4 CIDR blocks of the VPC.", "2016-06-30", absent="none",
          example={MAC0: ["10.0.0.0/16", "100.64.0.0/16"],
                   MAC1: ["10.0.0.0/16", "100.64.0.0/16"]}),
    Entry(f"{_ENI}/vpc-ipv6-cidr-blocks", "lines", "list[IPv6Network]",
          "IPv6 CIDR blocks of the VPC.", "2016-06-30", absent="no IPv6 block",
          example={MAC0: ["2600:1f18:1234:5600::/56"], MAC1: ["2600:1f18:1234:5600::/56"]}),
    # -- placement -----------------------------------------------------------------------
    Entry(f"{_MD}/placement", "dir", "Placement", "Where the instance runs.", "2008-02-01",
          model="Placement", module="placement", present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/placement/availability-zone", "text", "str",
          "Availability Zone (Local Zones look like 'us-west-2-lax-1a').", "2008-02-01",
          example=AZ, present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/placement/availability-zone-id", "text", "str",
          "Availability Zone ID (the same zone in every account), e.g. 'use1-az4'.",
          "2019-10-01", absent=_NEWER, example=AZ_ID),
    Entry(f"{_MD}/placement/group-name", "text", "str", "Placement group name.",
          "2020-08-24", absent="not in a placement group", example="my-cluster-group",
          absent_by_default=True),
    Entry(f"{_MD}/placement/host-id", "text", "str", "Dedicated Host ID.", "2020-08-24",
          absent="not on a Dedicated Host", example="h-0a1b2c3d4e5f60001",
          absent_by_default=True),
    Entry(f"{_MD}/placement/partition-number", "int", "int",
          "Partition number in a partition placement group.", "2020-08-24",
          absent="not in a partition placement group", example=2, absent_by_default=True),
    Entry(f"{_MD}/placement/region", "text", "str",
          "The Region.  Use this, not the AZ minus its last character (IMDS.region falls back "
          "on the identity document's region).", "2020-08-24", absent=_NEWER,
          example=REGION),
    # -- public keys ---------------------------------------------------------------------
    Entry(f"{_MD}/public-keys", "map", "dict[int, PublicKey]",
          "Key pairs given at launch, by index (listed as '<index>=<name>').", "1.0",
          absent="no key pair", listing="index=name"),
    Entry(f"{_MD}/public-keys/{{index}}", "dir", "PublicKey",
          "One key pair; its name comes from the listing.", "1.0", absent="no such key",
          example={"0": "my-key", "1": "other-key"}, model="PublicKey",
          module="public_keys"),
    Entry(f"{_MD}/public-keys/{{index}}/openssh-key", "text", "str",
          "The public key in OpenSSH format.", "1.0", absent="no such key",
          example={
              "0": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7examplekey0 my-key",
              "1": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexamplekey1 other-key",
          }),
    # -- services ------------------------------------------------------------------------
    Entry(f"{_MD}/services", "dir", "Services", "The AWS partition.", "2014-02-25",
          model="Services", module="services", present=_A, evidence=_OLDEST),
    Entry(f"{_MD}/services/domain", "text", "str",
          "Domain of AWS resources, 'amazonaws.com' (other partitions differ).",
          "2014-02-25", example="amazonaws.com", present=_A,
          evidence=_HOLDS.format("meta-data/services/") + " since it was introduced"),
    Entry(f"{_MD}/services/partition", "text", "str",
          "Partition: 'aws', 'aws-cn', 'aws-us-gov', ...; an open set.", "2015-10-20",
          absent=_NEWER, example="aws"),
    # -- spot ----------------------------------------------------------------------------
    Entry(f"{_MD}/spot", "dir", "Spot", "Spot interruption notices.", "2014-11-05",
          volatile=_V, absent="not marked for interruption", absent_by_default=True,
          model="Spot", module="spot"),
    Entry(f"{_MD}/spot/instance-action", "json", "SpotInstanceAction",
          "Pending interruption: action and time.  Poll every 5 s.", "2016-11-15",
          volatile=_V, absent="not marked, or terminated by the user",
          absent_by_default=True,
          example={"action": "terminate", "time": "2024-05-01T14:32:00Z"}),
    Entry(f"{_MD}/spot/termination-time", "text", "datetime | str",
          "Termination time (ISO 8601, UTC).  Can be a non-time value or a stale past "
          "time, which is kept as a string.", "2014-11-05", volatile=_V,
          absent="not marked", absent_by_default=True, example="2024-05-01T14:32:00Z"),
    # -- tags ----------------------------------------------------------------------------
    Entry(f"{_MD}/tags", "dir", "Tags", "Instance tags (when InstanceMetadataTags is on).",
          "2021-03-23", volatile=_V, absent="InstanceMetadataTags disabled",
          model="Tags", module="tags"),
    Entry(f"{_MD}/tags/instance", "map", "dict[TagKey, str]",
          "Tag key (IMDS allows only letters, digits and +-=.,_:@) to tag value.",
          "2021-03-23", volatile=_V, absent="InstanceMetadataTags disabled"),
    Entry(f"{_MD}/tags/instance/{{key}}", "text", "str",
          "A tag value (kept exactly, not stripped).", "2021-03-23", volatile=_V,
          absent="no such tag", exact=True,
          example={"Environment": "prod", "Name": "web-1", "Team": "platform"}),
    # -- dynamic -------------------------------------------------------------------------
    Entry("dynamic/fws", "dir", "Fws", "CloudWatch monitoring.", "2009-04-04",
          absent=f"not in the always-served list ({_EVERY})",
          model="Fws", module="dynamic"),
    Entry("dynamic/fws/instance-monitoring", "text", "str",
          "Detailed monitoring: 'enabled' or 'disabled'.", "2009-04-04",
          absent=f"not in the always-served list ({_EVERY})", example="disabled"),
    Entry("dynamic/instance-identity", "dir", "InstanceIdentity",
          "The instance identity document and its signatures.", "2009-04-04",
          model="InstanceIdentity", module="dynamic", present=_A,
          evidence=_HOLDS.format("dynamic/instance-identity/document")),
    Entry("dynamic/instance-identity/document", "json", "InstanceIdentityDocument",
          "The instance identity document (verify the raw bytes before trusting it).",
          "2009-04-04", example=_IDENTITY_DOCUMENT, present=_A, evidence=_OLDEST),
    Entry("dynamic/instance-identity/pkcs7", "text", "str",
          "Base64 DER PKCS#7 (DSA/SHA-1) over the document, without PEM armour.",
          "2009-04-04", absent=f"not in the always-served list ({_EVERY})",
          example=_b64("pkcs7", 6)),
    Entry("dynamic/instance-identity/rsa2048", "text", "str",
          "Base64 DER PKCS#7 (RSA-2048/SHA-256) over the document.", "2009-04-04",
          absent=f"not in the always-served list ({_EVERY})", example=_b64("rsa2048", 8)),
    Entry("dynamic/instance-identity/signature", "text", "str",
          "Base64 RSA/SHA-256 signature of the exact document bytes.", "2009-04-04",
          absent=f"not in the always-served list ({_EVERY})", example=_b64("signature", 3)),
)  # fmt: skip

_CREDENTIAL_FIELDS = (
    JsonField("Code", "str", "'Success' when it worked; an open set."),
    JsonField("Message", "str", "Error text when Code is not 'Success'."),
    JsonField("LastUpdated", "datetime", "When IMDS last refreshed them.", "iso"),
    JsonField("Type", "str", "'AWS-HMAC'."),
    JsonField("AccessKeyId", "str", "Access key ID."),
    JsonField("SecretAccessKey", "SecretStr", "Secret access key (never printed)."),
    JsonField("Token", "SecretStr", "Session token (never printed)."),
    JsonField("Expiration", "datetime", "When they expire.", "iso"),
)

JSON_SHAPES: tuple[JsonShape, ...] = (
    JsonShape("IamInfo", "iam", f"{_MD}/iam/info", "The instance profile.", (
        JsonField("Code", "str", "'Success' when it worked; an open set."),
        JsonField("Message", "str", "Error text when Code is not 'Success'."),
        JsonField("LastUpdated", "datetime", "When IMDS last updated it.", "iso"),
        JsonField("InstanceProfileArn", "str", "ARN of the instance profile."),
        JsonField("InstanceProfileId", "str", "ID of the instance profile."),
    ), volatile=_V),
    JsonShape("IamCredentials", "iam", f"{_MD}/iam/security-credentials/{{role}}",
              "Temporary credentials (every key optional: IMDS can answer 200 with only "
              "Code and Message).", _CREDENTIAL_FIELDS, volatile=_V, base="CredentialsModel"),
    JsonShape("IamCredentialsExtended", "iam",
              f"{_MD}/iam/security-credentials-extended/{{role}}",
              "Temporary credentials with the account ID.",
              (*_CREDENTIAL_FIELDS, JsonField("AccountId", "str", "The role's account.")),
              volatile=_V, base="CredentialsModel"),
    JsonShape("IdentityCredentialsInfo", "iam", f"{_MD}/identity-credentials/ec2/info",
              "Status of the identity credentials.", (
        JsonField("Code", "str", "'Success' when it worked; an open set."),
        JsonField("Message", "str", "Error text when Code is not 'Success'."),
        JsonField("LastUpdated", "datetime", "When IMDS last updated them.", "iso"),
        JsonField("AccountId", "str", "The instance's account."),
    ), volatile=_V),
    JsonShape("MaintenanceEvent", "events", f"{_MD}/events/maintenance/scheduled",
              "A scheduled (or past) maintenance event.", (
        JsonField("Code", "str", "Event type: 'instance-reboot', 'system-reboot', "
                  "'system-maintenance', 'instance-retirement', 'instance-stop'; an open "
                  "set.", present=_A, evidence=_EVENT),
        JsonField("Description", "str",
                  "What happens; history entries start '[Completed]' or '[Canceled]'.",
                  present=_A, evidence=_EVENT),
        JsonField("EventId", "str", "Event ID ('instance-event-...').", present=_A,
                  evidence=_EVENT),
        JsonField("NotBefore", "datetime", "Earliest start.", "imds-time", present=_A,
                  evidence=_EVENT),
        JsonField("NotAfter", "datetime", "Latest end.", "imds-time"),
        JsonField("NotBeforeDeadline", "datetime", "Latest the event can be postponed to.",
                  "imds-time"),
        JsonField("State", "str", "'active', 'completed', 'canceled'; an open set.",
                  present=_A, evidence=_EVENT),
    ), volatile=_V),
    JsonShape("RebalanceRecommendation", "events",
              f"{_MD}/events/recommendations/rebalance",
              "A spot rebalance recommendation.", (
        JsonField("noticeTime", "datetime", "When the signal was emitted.", "iso",
                  present=_A, evidence=f"{_DETAILS}: the signal is {{'noticeTime': ISO-Z}}"),
    ), volatile=_V),
    JsonShape("SpotInstanceAction", "spot", f"{_MD}/spot/instance-action",
              "A pending spot interruption.", (
        JsonField("action", "str", "'hibernate', 'stop' or 'terminate'; an open set.",
                  present=_A, evidence=_SPOT),
        JsonField("time", "datetime", "When it happens (UTC).", "iso", present=_A,
                  evidence=_SPOT),
    ), volatile=_V),
    JsonShape("InstanceIdentityDocument", "dynamic", "dynamic/instance-identity/document",
              "The instance identity document.", (
        JsonField("accountId", "str", "Account ID.", present=_A, evidence=_IID),
        JsonField("architecture", "Literal['i386', 'x86_64', 'arm64']", "CPU architecture.",
                  present=_A, evidence=_IID),
        JsonField("availabilityZone", "str", "Availability Zone.", present=_A, evidence=_IID),
        JsonField("billingProducts", "list[str]", "Billing products, or null."),
        JsonField("devpayProductCodes", "list[str]", "Deprecated; null."),
        JsonField("marketplaceProductCodes", "list[str]", "Marketplace codes, or null."),
        JsonField("imageId", "str", "AMI ID.", present=_A, evidence=_IID),
        JsonField("instanceId", "str", "Instance ID.", present=_A, evidence=_IID),
        JsonField("instanceType", "str", "Instance type.", present=_A, evidence=_IID),
        JsonField("kernelId", "str", "Kernel ID, or null."),
        JsonField("pendingTime", "datetime", "Launch (or last start) time.", "iso",
                  present=_A, evidence=_IID),
        JsonField("privateIp", "str", "Private IPv4 address of device 0.", present=_A,
                  evidence=_IID),
        JsonField("ramdiskId", "str", "RAM disk ID, or null."),
        JsonField("region", "str", "Region.", present=_A, evidence=_IID),
        JsonField("version", "str", "Document version, '2017-09-30'.", present=_A, evidence=_IID),
    )),
)  # fmt: skip

_BY_PATH: dict[str, Entry] = {e.path: e for e in ENTRIES}


def entry(path: str) -> Entry:
    """The entry for a catalog path (with placeholders); ``KeyError`` if unknown."""
    return _BY_PATH[path]


def always_present() -> list[str]:
    """Catalog paths EC2 serves on every instance: ``present="always"`` entries whose
    ancestors are all ``always`` too (sorted).  Directories are included."""
    out = []
    for e in ENTRIES:
        parts = e.path.split("/")
        chain = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if e.path and all(_BY_PATH[p].present == "always" for p in chain):
            out.append(e.path)
    return sorted(out)


def top_level() -> list[Entry]:
    """The top-level entries: the children of ``meta-data`` and ``dynamic``, and ``user-data``."""
    return [e for e in ENTRIES if e.parent in ("meta-data", "dynamic") or e.path == "user-data"]


def _segments(path: str) -> list[str]:
    path = path.strip("/")
    if path == "latest" or path.startswith("latest/"):
        path = path[len("latest") :].lstrip("/")
    return [s for s in path.split("/") if s] if path else []


_PATTERNS: list[tuple[list[str], Entry]] = sorted(
    ((e.path.split("/") if e.path else [], e) for e in ENTRIES),
    key=lambda pe: sum(s.startswith("{") for s in pe[0]),
)


_BY_LENGTH: dict[int, list[tuple[list[str], Entry]]] = {}
for _pattern, _entry in _PATTERNS:
    _BY_LENGTH.setdefault(len(_pattern), []).append((_pattern, _entry))


def match(path: str) -> tuple[Entry, dict[str, str]] | None:
    """The catalog entry of a concrete IMDS path, and the placeholder bindings.

    ``match("meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/local-ipv4s")`` is
    ``(entry(".../macs/{mac}/local-ipv4s"), {"mac": "0e:49:61:0f:c3:11"})``.  A leading
    ``/`` or ``/latest/`` and a trailing ``/`` are ignored; a fixed name wins over a
    placeholder.  ``None`` when no entry matches.
    """
    segs = _segments(path)
    for pattern, e in _BY_LENGTH.get(len(segs), ()):
        bindings: dict[str, str] = {}
        for p, s in zip(pattern, segs):  # as long: _BY_LENGTH
            if p.startswith("{"):
                bindings[p[1:-1]] = s
            elif p != s:
                break
        else:
            return e, bindings
    return None


def _volatile_paths() -> frozenset[str]:
    """Every catalog path that is volatile or holds a volatile entry below it."""
    out: set[str] = set()
    for e in ENTRIES:
        if e.volatile:
            parts = e.path.split("/")
            out.update("/".join(parts[:i]) for i in range(len(parts) + 1))
    return frozenset(out)


_VOLATILE_PATHS = _volatile_paths()


def subtree_volatile(path: str) -> bool:
    """True when the catalog path (placeholders included) can change while the instance
    runs: it is volatile, or something below it is (its listing can gain or lose an
    entry, such as ``meta-data/events`` when a rebalance recommendation appears). A
    client caches a body only when this is False; the generated views use the same."""
    return path in _VOLATILE_PATHS


def leaf_text(e: Entry, value: object) -> Node:
    """An example value as IMDS serves it (JSON text, lines joined, bytes as they are)."""
    if e.kind == "bytes":
        assert isinstance(value, bytes)
        return value
    if e.kind == "json":
        return json.dumps(value, indent=2)
    if e.kind == "lines":
        assert isinstance(value, list)
        return "\n".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _insert(tree: dict[str, Node], segs: list[str], value: Node) -> None:
    node = tree
    for s in segs[:-1]:
        child = node.setdefault(s, {})
        assert isinstance(child, dict)
        node = child
    node[segs[-1]] = value


def _sort(node: Node) -> Node:
    if isinstance(node, dict):
        return {k: _sort(node[k]) for k in sorted(node)}
    return node


def default_tree() -> dict[str, Node]:
    """The default instance, built from the catalog's examples (a fresh copy each call).

    Entries flagged ``absent_by_default`` are left out (spot, rebalance, kernel-id, ...);
    directory keys are sorted, as IMDS lists them.
    """
    tree: dict[str, Node] = {}
    key_names: dict[str, str] = {}  # public-keys index -> "index=name"
    for e in ENTRIES:
        if e.kind == "dir" and e.placeholders and e.example:
            assert isinstance(e.example, dict)
            for index, name in e.example.items():
                key_names[str(index)] = f"{index}={name}"
    for e in ENTRIES:
        if not e.is_leaf or e.absent_by_default or e.example is None:
            continue
        pattern = e.path.split("/")
        if not e.placeholders:
            _insert(tree, pattern, leaf_text(e, e.example))
            continue
        assert isinstance(e.example, dict)
        for binding, value in e.example.items():
            values = binding if isinstance(binding, tuple) else (binding,)
            it = iter(values)
            segs = [next(it) if p.startswith("{") else p for p in pattern]
            if pattern[:2] == ["meta-data", "public-keys"]:
                segs[2] = key_names[segs[2]]
            _insert(tree, segs, leaf_text(e, value))
    from ec2imds.simulator.identity import sign_default

    sign_default(tree)  # the identity document as AWS lays it out, signed by TEST keys
    sorted_tree = _sort(tree)
    assert isinstance(sorted_tree, dict)
    return sorted_tree
