"""How long verifying one identity document takes, once imported (target: under 5 ms).

``.venv/bin/python -m bench.identity [N]``: verifies the simulator's document N times
(default 2000) with each signature, and prints the median and the 95th percentile per
call. The simulator's TEST certificates stand in for AWS's pinned ones: the work is the
same (a pinned certificate's key is loaded once and cached, as a supplied
``IdentityCertificate`` is here); the "PEM" rows pass the certificate as PEM bytes, so
each call also parses it. The first call of a process (importing cryptography,
asn1crypto and the models) is timed apart.
"""

from __future__ import annotations

import statistics
import sys
import time


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 2000
    started = time.perf_counter()
    from ec2imds.identity import SIGNATURE_KINDS, load_certificate, verify_identity
    from ec2imds.simulator.identity import blobs_for, certificates, default_document

    document = default_document()
    blobs = blobs_for(document)
    assert blobs is not None
    pems = certificates()
    verify_identity(document, blobs["rsa2048"], certificate=pems["rsa2048"])
    first = time.perf_counter() - started
    print(f"first verification, imports included: {first * 1000:.1f} ms")
    for kind in SIGNATURE_KINDS:
        for form, certificate in (
            ("certificate", load_certificate(pems[kind], kind=kind)),
            ("PEM", pems[kind]),
        ):
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                verify_identity(document, blobs[kind], kind=kind, certificate=certificate)
                times.append(time.perf_counter() - t0)
            times.sort()
            median = statistics.median(times) * 1000
            p95 = times[int(len(times) * 0.95)] * 1000
            print(f"{kind:9} {form:11} median {median:.3f} ms  p95 {p95:.3f} ms  (n={n})")


if __name__ == "__main__":
    main(sys.argv[1:])
