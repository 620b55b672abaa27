"""Code generation for ec2imds: ``python -m codegen.generate [--check]``."""
