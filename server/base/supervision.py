"""Supervision by systemd or upstart, as `supervised` asks and the environment allows.

Under systemd (a `Type=notify` unit) the server reports its state with sd_notify's protocol:
one datagram per message on the unix socket named by NOTIFY_SOCKET, the messages Redis sends
(loading, ready, stopping, saving, replication sync). Under upstart (`expect stop`) it stops
itself once to say it is ready. Anything else is not supervised."""
import os
import signal
import socket

from server.base.log import log


class Supervision:
    """The supervisor found at start-up; `mode` is what notifications follow ("systemd" sends
    them, as Redis does, even when the socket was missing), `supervised` what INFO reports."""

    def __init__(self, configured):
        self.supervised = "no"
        if configured == "auto":
            if os.environ.get("UPSTART_JOB"):
                log.verbose("Upstart supervision detected.")
                configured = "upstart"
            elif os.environ.get("NOTIFY_SOCKET"):
                log.verbose("Systemd supervision detected.")
                configured = "systemd"
        self.mode = configured
        if configured == "upstart" and self._start_upstart():
            self.supervised = "upstart"
        elif configured == "systemd" and self._start_systemd():
            self.supervised = "systemd"

    def _start_upstart(self):
        if not os.environ.get("UPSTART_JOB"):
            log.warning("upstart supervision requested, but UPSTART_JOB not found!")
            return False
        log.notice("supervised by upstart, will stop to signal readiness.")
        os.kill(os.getpid(), signal.SIGSTOP)
        del os.environ["UPSTART_JOB"]
        return True

    def _start_systemd(self):
        if not self.notify("STATUS=Redis is loading...\n"):
            return False
        log.notice("Supervised by systemd. Please make sure you set appropriate values for "
                   "TimeoutStartSec and TimeoutStopSec in your service unit.")
        return True

    def notify(self, message):
        """Send one sd_notify message when systemd supervises; True once sent."""
        if self.mode != "systemd":
            return False
        address = os.environ.get("NOTIFY_SOCKET", "")
        if not address:
            log.warning("systemd supervision error: NOTIFY_SOCKET not found!")
            return False
        if address.startswith("@"):
            address = "\0" + address[1:]          # an abstract socket
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message.encode(), address)
        except OSError as exc:
            log.warning("systemd supervision error: sd_notify: %d" % -exc.errno)
            return False
        return True
