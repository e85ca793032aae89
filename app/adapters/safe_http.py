"""HTTP to addresses that users chose (Web Push endpoints), without letting them turn
the server against its own network.

- ``check_url`` (at registration): https only, and a host that is neither ``localhost``
  nor an IP address, in any spelling (``127.1``, ``2130706433``, ``0x7f.0.0.1``,
  ``[::ffff:10.0.0.1]``), that is not global.
- ``SafeSession`` (at send time): the host is resolved once per connection, every
  address it resolves to must be global (DNS may have changed since registration), and
  the connection goes to that checked address (no second lookup a rebinding DNS server
  could answer differently); redirects are never followed, the response body is read
  up to ``MAX_RESPONSE_BYTES`` and no proxy settings come from the environment.
"""
import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_RESPONSE_BYTES = 64 * 1024


class UnsafeAddress(requests.ConnectionError):
    """The URL names, or resolves to, an address that is not on the public internet."""


def ip_literal(host):
    """The IP address that ``host`` spells, in any notation a resolver accepts, or None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:  # the legacy IPv4 forms inet_aton takes: 127.1, 2130706433, 0x7f.1, 0177.0.0.1
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def is_public(address):
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url, schemes=("https",), allow_private=False):
    """ValueError (with a message for the client) unless ``url`` may be fetched."""
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"The URL must be {' or '.join(schemes)} with a host.")
    if allow_private:
        return
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        raise ValueError("The URL must not point at this machine.")
    address = ip_literal(host)
    if address is not None and not is_public(address):
        raise ValueError("The URL must not point at a private or reserved address.")


def resolve_public(host, port, allow_private=False):
    """The addresses ``host`` resolves to, all of them public (else UnsafeAddress)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise requests.ConnectionError(f"cannot resolve {host}: {exc}") from None
    if not allow_private:
        for *_, sockaddr in infos:
            if not is_public(ipaddress.ip_address(sockaddr[0].split("%")[0])):
                raise UnsafeAddress(f"{host} resolves to a non-public address")
    return infos


def _connect(conn):
    """Connect ``conn`` (a urllib3 connection) to a checked address of its host."""
    error = None
    for family, kind, proto, _, sockaddr in resolve_public(conn.host, conn.port, conn.allow_private):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(conn.timeout if isinstance(conn.timeout, (int, float)) else None)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"no address for {conn.host}")


class _SafeHTTPConnection(HTTPConnection):
    allow_private = False

    def _new_conn(self):
        return _connect(self)


class _SafeHTTPSConnection(HTTPSConnection):
    allow_private = False

    def _new_conn(self):
        return _connect(self)


def _pools(allow_private):
    http = type("SafeHTTP", (_SafeHTTPConnection,), {"allow_private": allow_private})
    https = type("SafeHTTPS", (_SafeHTTPSConnection,), {"allow_private": allow_private})
    return {"http": type("SafeHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("SafeHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https})}


class _SafeAdapter(HTTPAdapter):
    def __init__(self, allow_private):
        self.allow_private = allow_private
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pools(self.allow_private)


def _unsafe_cause(exc, depth=0):
    """The UnsafeAddress inside ``exc`` (its arguments, cause or context), if any."""
    if isinstance(exc, UnsafeAddress):
        return exc
    if not isinstance(exc, BaseException) or depth > 5:
        return None
    for inner in (*exc.args, exc.__cause__, exc.__context__):
        found = _unsafe_cause(inner, depth + 1)
        if found is not None:
            return found
    return None


class SafeSession(requests.Session):
    """A requests session for user-chosen URLs (see the module docstring)."""

    def __init__(self, allow_private=False):
        super().__init__()
        self.trust_env = False  # no HTTP(S)_PROXY, no .netrc
        adapter = _SafeAdapter(allow_private)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def get_redirect_target(self, response):
        """None: a 3xx is an answer like any other, never a request to make (and its
        ``Location`` is not even parsed)."""
        return None

    def send(self, request, **kwargs):
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        try:
            response = super().send(request, **kwargs)
        except requests.ConnectionError as exc:
            # urllib3 wraps what the connection raised ("Connection aborted."): say plainly
            # that the address was refused, so the caller does not take it for a network blip.
            unsafe = _unsafe_cause(exc)
            if unsafe is not None:
                raise unsafe from exc
            raise
        try:
            response._content = response.raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
        finally:
            response.close()
        return response
