"""Listening sockets as Redis opens them, and what counts as a local client.

The server core opens its listeners with these at start-up; CONFIG SET bind/port
reopens them at runtime.
"""
import errno
import os
import socket

from server.base.log import log


class ListenError(Exception):
    def __init__(self, detail, errno_=None):
        super().__init__(detail)
        self.detail = detail          # the text Redis appends to its warning
        self.errno = errno_


# A missing address family (no IPv6 here) skips the address instead of aborting.
FAMILY_UNSUPPORTED = {errno.ENOPROTOOPT, errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT,
                      errno.EPFNOSUPPORT, errno.EAFNOSUPPORT}


def open_tcp_listeners(addresses, port, backlog):
    """Listening sockets for every `bind` address, or ListenError (none left open).

    "-addr" is skipped when the address is absent, any address of a family this
    host lacks is skipped; each failure is logged as Redis logs it."""
    sockets = []
    for raw in addresses:
        optional = raw.startswith("-")
        addr = raw[1:] if optional else raw
        try:
            sockets.append(open_tcp_listener(addr, port, backlog))
        except ListenError as exc:
            log.warning("Warning: Could not create server TCP listening socket %s:%d: %s"
                        % (addr, port, exc.detail))
            if (exc.errno == errno.EADDRNOTAVAIL and optional) or exc.errno in FAMILY_UNSUPPORTED:
                continue
            for sock in sockets:
                sock.close()
            raise
    return sockets


def open_tcp_listener(addr, port, backlog):
    """A listening socket for one `bind` address ("*" / "::*" for any), as anetTcpServer."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    host = None if addr in ("*", "::*") else addr
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(exc.strerror)
    last_errno = 0
    for fam, kind, proto, _, sockaddr in infos:
        try:
            sock = socket.socket(fam, kind, proto)
        except OSError as exc:
            last_errno = exc.errno
            continue
        try:
            if fam == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            step = "bind"
            sock.bind(sockaddr)
            step = "listen"
            sock.listen(backlog)
        except OSError as exc:
            sock.close()
            raise ListenError("%s: %s" % (step, exc.strerror), exc.errno)
        sock.setblocking(False)
        return sock
    raise ListenError("unable to bind socket, errno: %d" % last_errno, last_errno)


def open_unix_listener(path, perm, backlog):
    try:
        os.unlink(path)
    except OSError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        if perm:
            os.chmod(path, perm)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise ListenError("%s: %s" % ("bind", exc.strerror), exc.errno)
    sock.setblocking(False)
    return sock


def is_local_client(client):
    """Unix socket or exactly 127.0.0.1 / ::1, as Redis's islocalClient."""
    return client.unix or is_loopback(client.addr)


def is_loopback(addr):
    host = addr.rsplit(":", 1)[0]
    return host in ("127.0.0.1", "[::1]", "::1")
