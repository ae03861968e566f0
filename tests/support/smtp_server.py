#!/usr/bin/python3
"""A real SMTP server for the notifier tests (Debian's python3-aiosmtpd).

smtp_server.py PORT MAILDIR [USER:PASSWORD]
Stores every message in MAILDIR (Maildir format). With USER:PASSWORD it
requires AUTH LOGIN/PLAIN with exactly those credentials (over plain text,
loopback only). Runs until killed.
"""
import signal
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir = int(sys.argv[1]), sys.argv[2]
creds = sys.argv[3].split(":", 1) if len(sys.argv) > 3 else None


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (creds is not None and isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == creds[0] and auth_data.password.decode() == creds[1])
    # handled=False: aiosmtpd then answers 535 itself (handled=True would leave the client waiting)
    return AuthResult(success=ok, handled=False)


kwargs = {}
if creds:
    kwargs = dict(auth_required=True, auth_require_tls=False, authenticator=authenticator)
controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *a: (controller.stop(), sys.exit(0)))
while True:
    time.sleep(3600)
