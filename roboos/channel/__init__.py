"""The cloud <-> edge data-plane channel: ZeroMQ ROUTER (cloud) / DEALER (edge) over the wire protocol.

See ``docs/channel.md``. Both ends run on an asyncio event loop; the socket is driven directly by the
loop's reader callback, so a message costs no thread hop and no extra task.
"""

from roboos.channel.cloud import CloudChannel, RobotLink, is_loopback
from roboos.channel.edge import EdgeChannel
from roboos.channel.errors import CallTimeout, ChannelError, ChannelRejected, RemoteError, RobotOffline
from roboos.channel.base import ChannelStats
from roboos.channel.security import ChannelSecurity, KeyPair, load_keypair, save_keypair

__all__ = [
    "CallTimeout",
    "ChannelError",
    "ChannelRejected",
    "ChannelSecurity",
    "ChannelStats",
    "CloudChannel",
    "EdgeChannel",
    "KeyPair",
    "RemoteError",
    "RobotLink",
    "RobotOffline",
    "is_loopback",
    "load_keypair",
    "save_keypair",
]
