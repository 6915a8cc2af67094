"""Where a webhook may be sent: public internet addresses only, so that a business cannot make Vafa's worker
reach the machine it runs on, its private network or a cloud metadata service (server-side request forgery).

The host is checked twice: when an endpoint is saved (a clear 422 for an address that is plainly internal) and
at every connection, where the name is resolved, every address it resolves to is checked, and the socket is
connected to a checked address and its peer checked again — so a name that resolved to a public address at
save time and to 127.0.0.1 later (DNS rebinding) is still refused. Addresses are parsed by the system resolver
exactly as the connection would parse them, so `0x7f000001`, `2130706433`, `127.1` and `0` are seen as the
loopback and unspecified addresses they are.

`VAFA_WEBHOOKS_ALLOW_PRIVATE=1` (settings.WEBHOOKS_ALLOW_PRIVATE) lifts the check, for tests with receivers on
loopback and for single-machine installs whose receiver runs beside Vafa.
"""

import ipaddress
import socket
import urllib.request
from http import client

from django.conf import settings

# Names for private networks whatever they resolve to here (`metadata.google.internal` is a cloud's metadata
# service; `.local` is link-local multicast DNS; `.home.arpa` and `.internal` are reserved for private use).
PRIVATE_NAMES = ("localhost", "localhost.", "metadata.google.internal")
PRIVATE_SUFFIXES = (".localhost", ".internal", ".local", ".home.arpa")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressNotAllowed(OSError):
    """The host is, or resolves to, an address webhooks may not reach."""


def private_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE", False))


def is_public(address: IPAddress) -> bool:
    """Whether a webhook may connect to this address: globally routable unicast, nothing else. IPv4-mapped
    and IPv4-embedding IPv6 forms (::ffff:a.b.c.d, 6to4, Teredo) are refused outright rather than unwrapped."""
    if isinstance(address, ipaddress.IPv6Address) and (
            address.ipv4_mapped is not None or address.sixtofour is not None or address.teredo is not None
            or address.is_site_local):
        return False
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified)


def _private_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name in PRIVATE_NAMES or name.endswith(PRIVATE_SUFFIXES)


def resolve(host: str, port: int) -> list[tuple]:
    """getaddrinfo for a TCP connection to host:port, refused (AddressNotAllowed) when the name is a private
    one or any address it resolves to is not public. Raises socket.gaierror when the name does not resolve."""
    if private_allowed():
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if _private_name(host):
        raise AddressNotAllowed(host)
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not found or any(not is_public(_address(info[4][0])) for info in found):
        raise AddressNotAllowed(host)
    return found


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.partition("%")[0])  # an IPv6 scope ("fe80::1%eth0") is not part of it


def refused_at_save(host: str) -> bool:
    """Whether an endpoint's host is plainly internal: a private name, or resolving to a private address now.
    A name that does not resolve (yet) is accepted; it is checked again at every connection."""
    try:
        resolve(host, 443)
    except AddressNotAllowed:
        return True
    except (OSError, UnicodeError):
        return False
    return False


def create_connection(address: tuple[str, int], timeout=socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                      source_address=None) -> socket.socket:
    """socket.create_connection that connects only to checked addresses and checks the peer it reached."""
    host, port = address
    error: OSError = AddressNotAllowed(host)
    for family, kind, proto, _, sockaddr in resolve(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            if not private_allowed() and not is_public(_address(sock.getpeername()[0])):
                raise AddressNotAllowed(host)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
            if isinstance(exc, AddressNotAllowed):
                break
    raise error


class _CheckedHTTPConnection(client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


class _CheckedHTTPSConnection(client.HTTPSConnection):
    # Only the TCP connection changes: TLS still wraps it with the URL's host name (SNI, certificate check),
    # and the Host header is still the URL's host.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


class CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_CheckedHTTPConnection, req)


class CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_CheckedHTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


def opener(*handlers) -> urllib.request.OpenerDirector:
    """A urllib opener whose connections go straight to checked addresses. No proxy from the environment: the
    check must see the receiver's own address, not a proxy's."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), CheckedHTTPHandler, CheckedHTTPSHandler,
                                       *handlers)
