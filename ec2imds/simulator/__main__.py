"""``python -m ec2imds.simulator``."""

from ec2imds.simulator.cli import main

raise SystemExit(main())
