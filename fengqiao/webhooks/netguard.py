"""Where webhooks may be sent: a district system must not become an SSRF probe.

``settings.FENGQIAO_WEBHOOKS``:

- ``allowed``: host names (``"platform.gov.cn"``, or ``".gov.cn"`` for a domain and
  its subdomains) and networks (``"10.20.0.0/16"``). Empty: any host, subject to the
  refused list. Private networks are allowed by default: district platforms talk
  over closed government networks.
- ``allow_loopback``: whether 127.0.0.0/8 and ::1 may be targets (development and tests only).

Always refused: link-local addresses (169.254.0.0/16, fe80::/10: cloud metadata
services live there), known metadata addresses (Alibaba Cloud 100.100.100.200,
AWS IPv6 fd00:ec2::254), "this network" 0.0.0.0/8, multicast, reserved and
broadcast ranges, and IPv4 addresses mapped into IPv6.

The check runs when a URL is saved and again before every request, on the
addresses the host resolves to at that moment; the request then goes to the
checked address (the host name kept for the ``Host`` header and TLS), so a DNS
answer that changes between check and connect (rebinding) cannot redirect it.
Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "169.254.0.0/16",  # link-local: 169.254.169.254 is the metadata service of most clouds
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "::/128",
        "fe80::/10",
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "ff00::/8",
        "::ffff:0:0/96",  # IPv4-mapped: checked as the IPv4 address instead
    )
)
LOOPBACK: tuple[IPNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
Resolver = Callable[[str, int], list[str]]


class UnsafeURL(ValueError):
    """The URL may not be used as a webhook target (message in the user's language)."""


def config() -> dict[str, Any]:
    return dict(getattr(settings, "FENGQIAO_WEBHOOKS", {}) or {})


def _allowed_entries() -> tuple[list[str], list[IPNetwork]]:
    hosts: list[str] = []
    networks: list[IPNetwork] = []
    for entry in config().get("allowed", []) or []:
        entry = str(entry).strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.append(entry)
    return hosts, networks


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _address_refusal(address: IPAddress) -> str | None:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if any(address in net for net in LOOPBACK if net.version == address.version):
        return None if config().get("allow_loopback", False) else _("The address is this server itself (loopback).")
    for net in REFUSED_NETWORKS:
        if net.version == address.version and address in net:
            return _("The address %(address)s is link-local, a cloud metadata service or reserved.") % {
                "address": address
            }
    return None


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    host: str
    port: int
    address: str

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if ":" in self.address else self.address
        default = 443 if parts.scheme == "https" else 80
        netloc = host if self.port == default and parts.port is None else f"{host}:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))

    @property
    def host_header(self) -> str:
        parts = urlsplit(self.url)
        return parts.netloc.rsplit("@", 1)[-1]


def check_url(url: str, *, resolve: Resolver | None = None) -> Target:
    """Check ``url`` and the addresses its host resolves to; raises ``UnsafeURL``."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(_("Use an http:// or https:// address."))
    if not parts.hostname:
        raise UnsafeURL(_("The address has no host name."))
    if parts.username or parts.password:
        raise UnsafeURL(_("Do not put a user name or password in the address; the signature authenticates us."))
    if parts.fragment:
        raise UnsafeURL(_("The address must not contain a fragment (#…)."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURL(_("The port number is not valid.")) from exc
    host = parts.hostname.lower().rstrip(".")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = (resolve or system_resolve)(host, port)
        except (OSError, UnicodeError) as exc:
            raise UnsafeURL(_("The host name %(host)s cannot be resolved.") % {"host": host}) from exc
        if not addresses:
            raise UnsafeURL(_("The host name %(host)s cannot be resolved.") % {"host": host})
    ips = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    for ip in ips:
        refusal = _address_refusal(ip)
        if refusal:
            raise UnsafeURL(refusal)
    allowed_hosts, allowed_networks = _allowed_entries()
    if allowed_hosts or allowed_networks:
        by_name = literal is None and any(host == h or (h.startswith(".") and host.endswith(h)) for h in allowed_hosts)
        by_network = all(any(ip in net for net in allowed_networks if net.version == ip.version) for ip in ips)
        if not (by_name or by_network):
            raise UnsafeURL(
                _("%(host)s is not on this platform's list of allowed webhook receivers; ask the administrator.")
                % {"host": host}
            )
    return Target(url=url, host=host, port=port, address=str(ips[0]))


def refused_networks_text(networks: Sequence[IPNetwork] = REFUSED_NETWORKS) -> str:
    return ", ".join(str(n) for n in networks)
