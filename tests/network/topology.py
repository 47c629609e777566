"""A small city network in three namespaces: resident, DMZ, staff.

::

    resident ns                 DMZ ns (firewall + servers)                 staff ns
    198.18.1.10 --veth-- 198.18.1.1  app (public URL)      198.18.2.1 --veth-- 198.18.2.10
                         198.18.1.3  coturn (turn host)    (app, internal URL)

Addresses come from 198.18.0.0/15, the block reserved for testing network
devices (RFC 2544, listed in RFC 6890). It is not routed on the internet, is
outside every private range coturn's ``denied-peer-ip`` lines list (so the
shipped lines stay as they are; ``coturn_helpers.py`` adds the two client ranges, which
stand in for a home LAN and the city LAN), and cannot be confused with a real
city LAN. The namespaces are linked only to each other by veth pairs:
none has a link to the host namespace, and the DMZ has no default route, so
no packet can leave them.

The DMZ forwards between its two sides like a real firewall would, and its
nftables ``forward`` chain drops everything: the resident and staff networks
have no direct path, only the servers in the DMZ. Each client network gets an
egress policy per test case (:data:`EGRESS`), the way an office firewall
blocks outbound UDP or everything but TCP 443.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from media.loopback import NetworkNamespace

RESIDENT_ADDR = "198.18.1.10"
STAFF_ADDR = "198.18.2.10"
STAFF_CIDR = "198.18.2.0/24"
STAFF_NET = "198.18.2.0-198.18.2.255"  # the same, in coturn's range syntax
DMZ_PUBLIC = "198.18.1.1"  # the app as residents reach it
DMZ_INTERNAL = "198.18.2.1"  # the app as staff and kiosks reach it
TURN_ADDR = "198.18.1.3"  # coturn's own address (its 443 cannot be the web proxy's)

APP_PORT = 8000
SIGNALING_PORT = 8765
TURN_PORT = 3478  # docker/turnserver.conf listening-port
TURNS_PORT = 5349  # docker/turnserver.conf tls-listening-port
TURNS_443 = 443  # the DMZ firewall forwards turn host:443 to TURNS_PORT

# What leaves a client network in each case. The app's own ports stay open in
# "tls": in production the reverse proxy serves the app and signaling on the
# same TCP 443 (docker/Caddyfile); only ICE is what this test varies.
EGRESS = {
    "udp": "",
    "tcp": "meta l4proto udp drop",
    "tls": f"""
        oif lo accept
        tcp dport 443 accept
        ip daddr {{ {DMZ_PUBLIC}, {DMZ_INTERNAL} }} tcp dport {{ {APP_PORT}, {SIGNALING_PORT} }} accept
        drop
    """,
    # Nothing but the app itself: no way to the relay server at all.
    "none": f"""
        oif lo accept
        ip daddr {{ {DMZ_PUBLIC}, {DMZ_INTERNAL} }} tcp dport {{ {APP_PORT}, {SIGNALING_PORT} }} accept
        drop
    """,
}

DMZ_RULES = f"""
table inet mdg_dmz {{
    chain forward {{
        type filter hook forward priority 0; policy drop;
    }}
}}
table ip mdg_dmz_nat {{
    chain prerouting {{
        type nat hook prerouting priority -100;
        ip daddr {TURN_ADDR} tcp dport {TURNS_443} dnat to {TURN_ADDR}:{TURNS_PORT}
    }}
}}
"""


def run(ns: NetworkNamespace, *argv: str, stdin: str | None = None) -> None:
    proc = subprocess.run(
        ns.command(argv), input=stdin, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} in {ns.name}: {proc.stderr.strip()}")


def nft(ns: NetworkNamespace, ruleset: str) -> None:
    run(ns, "nft", "-f", "-", stdin=ruleset)


@dataclass
class CityNetwork:
    resident: NetworkNamespace
    dmz: NetworkNamespace
    staff: NetworkNamespace

    def set_egress(self, case: str) -> None:
        """Replace both client networks' outbound policy with the one for ``case``."""
        rules = EGRESS[case]
        for ns in (self.resident, self.staff):
            # `add` then `delete` makes the table exist before it is dropped and rebuilt.
            nft(ns, "table inet mdg_egress {}\ndelete table inet mdg_egress\n")
            nft(
                ns,
                "table inet mdg_egress {\n"
                "  chain output { type filter hook output priority 0; policy accept;\n"
                f"{rules}\n"
                "  }\n}\n",
            )


def _link(a: NetworkNamespace, a_addr: str, b: NetworkNamespace, b_addr: str) -> None:
    """A veth pair between two of our namespaces, one /24 on it."""
    name_a, name_b = "to-" + b.name[-8:], "to-" + a.name[-8:]
    subprocess.run(
        ["ip", "link", "add", "tmp-a", "netns", a.name, "type", "veth",
         "peer", "name", "tmp-b", "netns", b.name],
        check=True, capture_output=True,
    )  # fmt: skip
    run(a, "ip", "link", "set", "tmp-a", "name", name_a)
    run(b, "ip", "link", "set", "tmp-b", "name", name_b)
    run(a, "ip", "addr", "add", f"{a_addr}/24", "dev", name_a)
    run(b, "ip", "addr", "add", f"{b_addr}/24", "dev", name_b)
    run(a, "ip", "link", "set", name_a, "up")
    run(b, "ip", "link", "set", name_b, "up")


@contextmanager
def city_network() -> Iterator[CityNetwork]:
    """The three namespaces, linked, routed and firewalled; deleted afterwards."""
    made: list[NetworkNamespace] = []
    try:
        for prefix in ("mdg-res", "mdg-dmz", "mdg-stf"):
            made.append(NetworkNamespace.create(prefix=prefix))
        resident, dmz, staff = made
        _link(resident, RESIDENT_ADDR, dmz, DMZ_PUBLIC)
        _link(staff, STAFF_ADDR, dmz, DMZ_INTERNAL)
        dmz_public_dev = "to-" + resident.name[-8:]
        run(dmz, "ip", "addr", "add", f"{TURN_ADDR}/32", "dev", dmz_public_dev)
        run(resident, "ip", "route", "add", "default", "via", DMZ_PUBLIC)
        run(staff, "ip", "route", "add", "default", "via", DMZ_INTERNAL)
        # Forwarding on, so that it is the nftables rule, not a missing route,
        # that keeps resident and staff apart.
        # /proc/sys/net is per namespace (and needs no procps installed).
        run(dmz, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        nft(dmz, DMZ_RULES)
        net = CityNetwork(resident, dmz, staff)
        net.set_egress("udp")
        yield net
    finally:
        for ns in reversed(made):
            ns.delete()
