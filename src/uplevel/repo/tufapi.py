"""The python-tuf and securesystemslib names uplevel's repository code uses, imported once.

Those packages re-export their public classes from private modules without
`__all__`, which mypy --strict reads as private names. Importing them here, and
re-exporting them through `__all__`, keeps that one suppression out of every other module.
"""

from __future__ import annotations

from securesystemslib.signer import CryptoSigner, Signer, SSlibKey  # type: ignore[attr-defined]
from tuf.api.exceptions import LengthOrHashMismatchError, UnsignedMetadataError
from tuf.api.metadata import (  # type: ignore[attr-defined]
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization import DeserializationError

__all__ = [
    "CryptoSigner",
    "DeserializationError",
    "LengthOrHashMismatchError",
    "MetaFile",
    "Metadata",
    "Root",
    "SSlibKey",
    "Signer",
    "Snapshot",
    "TargetFile",
    "Targets",
    "Timestamp",
    "UnsignedMetadataError",
]
