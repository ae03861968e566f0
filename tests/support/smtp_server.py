#!/usr/bin/python3
"""A real SMTP server for the notifier tests (Debian's python3-aiosmtpd).

smtp_server.py PORT MAILDIR [USER:PASSWORD|-] [CERT KEY]
Stores every message in MAILDIR (Maildir format). With USER:PASSWORD it
requires AUTH LOGIN/PLAIN with exactly those credentials (over plain text,
loopback only; "-": no AUTH). With CERT and KEY (PEM files, e.g. a
self-signed certificate the test made with openssl) it offers STARTTLS and
refuses every mail sent without it: a local TLS relay. Runs until killed.
"""
import signal
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir = int(sys.argv[1]), sys.argv[2]
creds = sys.argv[3].split(":", 1) if len(sys.argv) > 3 and sys.argv[3] != "-" else None
cert = sys.argv[4:6] if len(sys.argv) > 5 else None


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (creds is not None and isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == creds[0] and auth_data.password.decode() == creds[1])
    # handled=False: aiosmtpd then answers 535 itself (handled=True would leave the client waiting)
    return AuthResult(success=ok, handled=False)


kwargs = {}
if creds:
    kwargs = dict(auth_required=True, auth_require_tls=False, authenticator=authenticator)
if cert:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert[0], cert[1])
    kwargs.update(tls_context=context, require_starttls=True)
controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *a: (controller.stop(), sys.exit(0)))
while True:
    time.sleep(3600)
