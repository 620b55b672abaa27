"""Hand-written base of the generated models: :class:`IMDSModel` (every model),
:class:`CredentialsModel` (the credential documents) and :func:`dump`.  The generator
never touches this file.

The rest of the hand-written machinery has a module per job: the leaf types in
:mod:`~ec2imds.models._types`, validation and its errors in
:mod:`~ec2imds.models._validation`, the lazy views in :mod:`~ec2imds.models._views`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ec2imds.errors import IMDSValidationError
from ec2imds.models._types import RawExtra

__all__ = ["AwsCredentials", "CredentialsModel", "IMDSModel", "dump"]


class IMDSModel(BaseModel):
    """Base of every generated model: frozen, by-name or by-alias, unknown keys kept.

    ``__imds_path__`` is the catalog path (placeholders included); ``__imds_volatile__``
    says whether the model holds anything volatile (a client never caches it whole).
    """

    model_config = ConfigDict(
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
        defer_build=True,
        ser_json_bytes="base64",
    )

    __pydantic_extra__: dict[str, RawExtra] = Field(init=False)
    __imds_path__: ClassVar[str] = ""
    __imds_volatile__: ClassVar[bool] = False


class AwsCredentials(NamedTuple):
    """Usable temporary credentials, every part present (:meth:`CredentialsModel.require`)."""

    access_key_id: str
    secret_access_key: SecretStr
    token: SecretStr
    expiration: datetime


class CredentialsModel(IMDSModel):
    """Base of the credential documents (``iam/security-credentials/<role>`` and the
    extended and identity ones).  IMDS can answer them with 200 and only ``Code`` and
    ``Message`` (a role EC2 cannot assume), so every key of the model is optional;
    :meth:`require` gives the credentials typed, without ``None``, or raises."""

    def require(self) -> AwsCredentials:
        """The credentials, every part present; :class:`~ec2imds.errors.IMDSValidationError`
        (with IMDS's ``Code`` and ``Message``, never a secret) when the document does not
        hold usable ones."""
        parts: dict[str, Any] = {n: getattr(self, n, None) for n in AwsCredentials._fields}
        code, message = getattr(self, "code", None), getattr(self, "message", None)
        if code in (None, "Success") and all(v is not None for v in parts.values()):
            return AwsCredentials(**parts)
        missing = ", ".join(name for name, value in parts.items() if value is None)
        detail = f"Code {code!r}" + (f": {message}" if message else "")
        path = type(self).__imds_path__
        raise IMDSValidationError(
            f"{path}: no usable credentials ({detail}"
            + (f"; missing {missing})" if missing else ")"),
            path=path,
        )


def dump(model: BaseModel, *, reveal_secrets: bool = False) -> Any:
    """The JSON form of a model: IMDS keys, absent paths left out, ``user-data`` base64,
    times as IMDS wrote them, public keys as ``"0=my-key"``, secrets masked unless asked.
    """
    return model.model_dump(
        mode="json",
        by_alias=True,
        exclude_unset=True,
        context={"reveal_secrets": reveal_secrets},
    )
