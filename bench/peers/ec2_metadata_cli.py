"""ec2-metadata's own command line (``imds get NAME``) pointed at the simulator.

ec2-metadata 3.x's CLI uses the module-level ``ec2_metadata`` object, whose URLs are
hard-coded to 169.254.169.254 and cannot be set from the environment. This shim sets the
four URLs from ``BENCH_IMDS_URL`` (refusing anything but loopback), then runs the CLI's
``main()`` exactly as the ``imds`` console script would. It has no token persistence:
every invocation PUTs a token.
"""

from __future__ import annotations

import os
import sys

import _proto
from ec2_metadata import ec2_metadata
from ec2_metadata.cli import main

base = os.environ.get("BENCH_IMDS_URL", "").rstrip("/") + "/latest/"
ec2_metadata.service_url = base
ec2_metadata.metadata_url = f"{base}meta-data/"
ec2_metadata.dynamic_url = f"{base}dynamic/"
ec2_metadata.userdata_url = f"{base}user-data"
for attr in ("service_url", "metadata_url", "dynamic_url", "userdata_url"):
    _proto.require_loopback(getattr(ec2_metadata, attr), f"ec2_metadata.{attr}")

sys.exit(main())
