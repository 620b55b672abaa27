"""Runner for botocore's IMDS fetchers, run by its own venv's interpreter.

Configured the way botocore configures itself (``credentials.create_credential_resolver``
and ``utils.IMDSRegionProvider``): the endpoint comes from the session config variable
``ec2_metadata_service_endpoint``, itself read from ``AWS_EC2_METADATA_SERVICE_ENDPOINT``
(the harness sets it to the simulator); timeout and attempts from the session too.
botocore has no token cache: every ``retrieve_*`` call PUTs a token (TTL 21600, fixed).

* ``full_all``: what its fetchers fetch: ``InstanceMetadataFetcher
  .retrieve_iam_role_credentials()`` and ``InstanceMetadataRegionFetcher.retrieve_region()``
  (warm fetchers: their urllib3 pools are kept)
* ``full_cold``: the same with new fetchers per call
* ``one_key``: ``IMDSFetcher._get_request("latest/meta-data/instance-id")`` (private API:
  botocore has no public single-key read) with one token fetched once and reused, so it
  compares to peers that cache tokens
"""

from __future__ import annotations

import os

import _proto
import botocore
import botocore.session
from botocore.utils import (
    InstanceMetadataFetcher,
    InstanceMetadataRegionFetcher,
    resolve_imds_endpoint_mode,
)

args = _proto.arguments()
session = botocore.session.get_session()
ENDPOINT = session.get_config_variable("ec2_metadata_service_endpoint")
if not ENDPOINT:
    raise SystemExit("AWS_EC2_METADATA_SERVICE_ENDPOINT is not set")
_proto.require_loopback(ENDPOINT, "ec2_metadata_service_endpoint")

CONFIG = {
    "ec2_metadata_service_endpoint": ENDPOINT,
    "ec2_metadata_service_endpoint_mode": resolve_imds_endpoint_mode(session),
    "ec2_metadata_v1_disabled": session.get_config_variable("ec2_metadata_v1_disabled"),
}
KW = {
    "timeout": session.get_config_variable("metadata_service_timeout"),
    "num_attempts": session.get_config_variable("metadata_service_num_attempts"),
    "user_agent": session.user_agent(),
    "config": CONFIG,
}


def fetchers() -> tuple[InstanceMetadataFetcher, InstanceMetadataRegionFetcher]:
    creds = InstanceMetadataFetcher(**KW)
    region = InstanceMetadataRegionFetcher(**KW)
    for f in (creds, region):
        _proto.require_loopback(f.get_base_url(), f"{type(f).__name__} base URL")
    return creds, region


CREDS, REGION = fetchers()


def crawl(creds: InstanceMetadataFetcher, region: InstanceMetadataRegionFetcher) -> dict:
    return {
        "credentials": creds.retrieve_iam_role_credentials(),
        "region": region.retrieve_region(),
    }


def summary(got: dict) -> dict:
    c = got["credentials"] or {}
    return {
        "role": c.get("role_name"),
        "has_keys": bool(c.get("access_key")),
        "region": got["region"],
    }


def full_all(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(crawl(CREDS, REGION)))
    return t, None, summary(box[-1])


def full_cold(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(crawl(*fetchers())))
    return t, None, summary(box[-1])


TOKEN: list[str] = []


def one_key(n: int) -> _proto.Result:
    if not TOKEN:
        token = CREDS._fetch_metadata_token()
        if not token:
            raise RuntimeError("no token")
        TOKEN.append(token)
    get = CREDS._get_request
    path = "latest/" + _proto.ONE_KEY
    box = []
    t = _proto.timed(1, lambda: box.extend(get(path, None, TOKEN[0]).text for _ in range(n)))
    return t, box[-1], {}


_proto.serve(
    "botocore",
    botocore.__version__,
    {"full_all": full_all, "full_cold": full_cold, "one_key": one_key},
    {
        "full_raw": "botocore's fetchers read IAM credentials and the region only",
        "common": "botocore's fetchers read IAM credentials and the region only",
    },
    notes=[f"endpoint {ENDPOINT} from AWS_EC2_METADATA_SERVICE_ENDPOINT", f"pid {os.getpid()}"],
)
