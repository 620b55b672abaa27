"""``python -m ec2imds``: the command line (see ``ec2imds.cli``)."""

from ec2imds.cli import main

raise SystemExit(main())
