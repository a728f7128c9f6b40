"""What the supervisor does while it is still root, before any step code runs.

The EE's container starts its supervisor as root with three capabilities (``SETUID``,
``SETGID``, and ``NET_ADMIN`` when link-local egress is blocked). The supervisor then:

1. blocks link-local egress (``169.254.0.0/16``, where CI runners' cloud metadata
   endpoints answer) with a routing rule in the EE's own network namespace, sent over
   netlink (``ip rule add to 169.254.0.0/16 unreachable``), so it works with a remote
   daemon: nothing changes on the host;
2. becomes the platform's user for good but for its real and saved user id, which stay
   root: ``(ruid, euid, suid) = (0, 1051, 0)``. Its effective capabilities are gone.

Steps run as the platform's user entirely (1051, 1051, 1051), so a step cannot signal
the supervisor (the kernel lets a process signal only processes whose real or saved
user id is its own), nor open its file descriptors through /proc, nor trace it. The
supervisor can still signal and measure the steps, whose user id is its effective one.
"""

from __future__ import annotations

import os
import pwd
import socket
import struct

PLATFORM_USER = "sbx_user1051"
LINK_LOCAL = "169.254.0.0/16"

# netlink (linux/rtnetlink.h, linux/fib_rules.h)
_RTM_NEWRULE = 32
_NLMSG_ERROR = 2
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_EXCL, _NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
_FR_ACT_UNREACHABLE = 7
_FRA_DST, _FRA_PRIORITY = 1, 6
_RULE_PRIORITY = 90  # before the main table's rule (32766)


def _attribute(kind: int, payload: bytes) -> bytes:
    return struct.pack("HH", 4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def unreachable_rule(cidr: str) -> bytes:
    """The netlink message that adds ``ip rule add to CIDR unreachable``."""
    address, bits = cidr.split("/")
    # struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action, flags
    body = struct.pack(
        "BBBBBBBBI", socket.AF_INET, int(bits), 0, 0, 0, 0, 0, _FR_ACT_UNREACHABLE, 0
    )
    body += _attribute(_FRA_DST, socket.inet_aton(address))
    body += _attribute(_FRA_PRIORITY, struct.pack("I", _RULE_PRIORITY))
    flags = _NLM_F_REQUEST | _NLM_F_ACK | _NLM_F_EXCL | _NLM_F_CREATE
    return struct.pack("IHHII", 16 + len(body), _RTM_NEWRULE, flags, 1, 0) + body


def block_egress(cidr: str = LINK_LOCAL) -> None:
    """Make every address in ``cidr`` unreachable from this network namespace.

    Raises:
        OSError: the kernel refused (no ``NET_ADMIN``).
    """
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as sock:
        sock.bind((0, 0))
        sock.send(unreachable_rule(cidr))
        reply = sock.recv(65536)
    _length, kind = struct.unpack_from("IH", reply)
    if kind == _NLMSG_ERROR:
        (error,) = struct.unpack_from("i", reply, 16)
        if error:
            raise OSError(-error, f"adding the link-local rule: {os.strerror(-error)}")


def become_platform_user() -> pwd.struct_passwd:
    """Take the platform's user as effective user, keeping root as real and saved one."""
    user = pwd.getpwnam(PLATFORM_USER)
    os.setgroups([])
    os.setresgid(0, user.pw_gid, 0)
    os.setresuid(0, user.pw_uid, 0)
    return user
