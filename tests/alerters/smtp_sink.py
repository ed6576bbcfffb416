"""A real SMTP server on 127.0.0.1 for the e-mail alerter tests (aiosmtpd).

Usage: /usr/bin/python3 smtp_sink.py DIR [--auth USER:PASS]

Writes the bound port to DIR/port, then each accepted message to
DIR/msg-<n>.eml (exact DATA content) with DIR/msg-<n>.env holding
"MAIL FROM\\nRCPT TO\\nauth or -". Recipients whose local part starts with
"reject" get a permanent 550; those starting with "later" get 451 (retry).
Runs until killed.
"""

import os
import socket
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 no such user"
        if local.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.out_dir, "msg-%d" % n)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        who = "auth" if session.authenticated else "-"
        with open(base + ".env", "w") as f:
            f.write("%s\n%s\n%s\n" % (envelope.mail_from, ",".join(envelope.rcpt_tos), who))
        os.rename(base + ".tmp", base + ".eml")
        return "250 Message accepted"


def main():
    out_dir = sys.argv[1]
    auth = None
    if len(sys.argv) > 3 and sys.argv[2] == "--auth":
        user, password = sys.argv[3].split(":", 1)
        auth = (user.encode(), password.encode())
    kwargs = {}
    if auth:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and \
                (auth_data.login, auth_data.password) == auth
            return AuthResult(success=ok, handled=False)
        kwargs = dict(authenticator=authenticator, auth_required=True,
                      auth_require_tls=False)
    # aiosmtpd's Controller probes its own port, so it cannot take port 0:
    # pick a free one first.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(Sink(out_dir), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    with open(os.path.join(out_dir, "port.tmp"), "w") as f:
        f.write(str(port))
    os.rename(os.path.join(out_dir, "port.tmp"), os.path.join(out_dir, "port"))
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
