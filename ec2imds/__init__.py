"""ec2imds: a typed SDK and CLI for the EC2 Instance Metadata Service (IMDSv2)."""

from __future__ import annotations

__version__ = "1.0.0.dev0"
