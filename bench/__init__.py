"""Benchmarks of ec2imds against its peers, all on the embedded IMDS simulator (loopback).

Run ``python -m bench --help`` from the repository root; ``bench/README.md`` explains the
scenarios, how each peer is configured, and the caveats.
"""
