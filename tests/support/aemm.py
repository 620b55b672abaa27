"""A server that answers as Amazon's mock (AEMM) does where it differs from EC2."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ec2imds._closing import Closing
from ec2imds.endpoints import Endpoint
from ec2imds.simulator.instance import default_tree
from tests.support.raw_server import RawServer, http_answer

if TYPE_CHECKING:
    pass


#: Names AEMM lists both as a leaf and as a directory.
_LISTED_TWICE = frozenset({"associations", "security-credentials"})
EIA_ID = "eia-bfa21c7904f64a82a21b9f4540169ce1"
EIA = b'{"version_2018_04_12": {"elastic-inference-accelerator-id": "%s", "elastic-inference-accelerator-type": "eia1.medium"}}'  # noqa: E501
AEMM_TOKEN = "aemm-token"


def aemm_tree() -> dict[str, Any]:
    """The default instance as AEMM would serve it: no ``ipv6`` nor ``profile``, public
    keys under ``0/``, an Elastic Inference accelerator."""
    tree: dict[str, Any] = default_tree()
    md = tree["meta-data"]
    md.pop("ipv6", None)
    md.pop("profile", None)  # undocumented, and AEMM does not serve it
    md["public-keys"] = {k.split("=", 1)[0]: v for k, v in md["public-keys"].items()}
    md["elastic-inference"] = {"associations": {EIA_ID: (EIA % EIA_ID.encode()).decode()}}
    return tree


class AEMMLike(Closing):
    """Answers as Amazon's mock does where it differs from EC2: every name it serves as
    a directory in ``_LISTED_TWICE`` is listed both as ``x`` and ``x/``; the leaf form
    answers the listing; a path it does not serve answers 200 with another listing
    (substring matching: ``meta-data/ipv6`` gets ``network/``); public keys are listed
    as ``0/``. Tokens as IMDSv2 (any TTL header gets the one token)."""

    def __init__(self, tree: dict[str, Any] | None = None) -> None:
        self.tree = tree if tree is not None else aemm_tree()
        self.server = RawServer(self.answer)

    def _listing(self, node: dict[str, Any]) -> bytes:
        names: list[str] = []
        for key, value in node.items():
            if isinstance(value, dict):
                if key in _LISTED_TWICE:
                    names.append(key)
                names.append(key + "/")
            else:
                names.append(key)
        return "\n".join(names).encode()

    def answer(self, method: str, path: str, headers: Mapping[str, str]) -> bytes:
        plain = {"Content-Type": "text/plain"}
        if path == "/latest/api/token":
            if method != "PUT":
                return http_answer("405 Method Not Allowed", b"")
            ttl = headers.get("x-aws-ec2-metadata-token-ttl-seconds", "21600")
            return http_answer(
                "200 OK",
                AEMM_TOKEN.encode(),
                {"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": ttl, **plain},
            )
        if headers.get("x-aws-ec2-metadata-token") != AEMM_TOKEN:
            return http_answer("401 Unauthorized", b"")
        rest = path.removeprefix("/latest/")
        node: Any = self.tree
        for segment in [s for s in rest.split("/") if s]:
            node = node.get(segment) if isinstance(node, dict) else None
        if node is None:
            return http_answer("200 OK", b"network/", plain)  # substring matching's junk
        if isinstance(node, dict):
            return http_answer("200 OK", self._listing(node), plain)
        body = node if isinstance(node, bytes) else str(node).encode()
        return http_answer("200 OK", body, plain)

    @property
    def endpoint(self) -> Endpoint:
        return self.server.endpoint

    def close(self) -> None:
        self.server.close()
