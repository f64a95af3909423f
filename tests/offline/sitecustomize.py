"""Loaded by every Python subprocess the tests start: only loopback connections are allowed.

pytest-socket guards the test process itself; this guards the `ketabot` CLI, the web
server and anything else the tests run, so "nothing is downloaded at run time" is
checked, not assumed.
"""

import socket

_ALLOWED = ("127.", "::1", "localhost")
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _check(address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not host.startswith(_ALLOWED) and not host.startswith("/"):
        raise ConnectionRefusedError(f"network access blocked in tests: {address!r}")


def _guarded_connect(self, address):
    _check(address)
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    _check(address)
    return _connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, *args, **kwargs):
    named = isinstance(host, str) and any(ch.isalpha() for ch in host)
    if named and host != "localhost" and not host.startswith(_ALLOWED):
        raise socket.gaierror(f"name resolution blocked in tests: {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo
