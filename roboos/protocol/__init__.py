"""Wire protocol of the data plane: envelope, frame codec, message bodies."""

from roboos.protocol.envelope import (
    DEFAULT_LIMITS,
    PROTOCOL_VERSION,
    Envelope,
    Limits,
    MessageTooLarge,
    MsgType,
    ProtocolError,
    VersionMismatch,
    decode,
    encode,
    new_id,
)

__all__ = [
    "DEFAULT_LIMITS",
    "PROTOCOL_VERSION",
    "Envelope",
    "Limits",
    "MessageTooLarge",
    "MsgType",
    "ProtocolError",
    "VersionMismatch",
    "decode",
    "encode",
    "new_id",
]
