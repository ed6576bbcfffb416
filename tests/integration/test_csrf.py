"""Cross-site requests and DNS rebinding in a real browser (issue 14 §3,
docs/security.md "Cross-site requests and DNS rebinding").

A page served from another origin (127.0.0.2, another port) and opened in
headless Chromium (Debian's `chromium`) sends `no-cors` POSTs to /reservation
and /checkout and submits a `text/plain` form: nothing may change. The same page
with its origin in server.allowed_origins does change things, which shows the
page really reaches GoTel. A name rebound to 127.0.0.1 (attacker.example, by
Chromium's --host-resolver-rules) is refused. Skipped when chromium is absent
(scripts/install-deps installs it). All traffic stays on 127.0.0.0/8.
"""

import http.server
import shutil
import subprocess
import tempfile
import threading
import unittest

from gotel_harness import GotelTestCase

CHROMIUM = shutil.which("chromium")
ATTACKER_HOST = "127.0.0.2"

ATTACK_PAGE = """<!DOCTYPE html><html><body>
<form id="form" method="POST" action="%(gotel)s/reservation" enctype="text/plain" target="sink">
<input name='{"app":"fromform","component":"job","frequency":1,"time_units":"hours","notify":"mallory@evil.example","x":"' value='"}'>
</form>
<iframe name="sink"></iframe>
<script>
var gotel = "%(gotel)s";
function post(path, body) {
  return fetch(gotel + path, {method: "POST", mode: "no-cors",
                              headers: {"Content-Type": "text/plain"},
                              body: JSON.stringify(body)});
}
post("/reservation", {app: "victim", component: "job", frequency: 1, time_units: "hours",
                      owner: "mallory", notify: "mallory@evil.example"})
  .then(function () { return post("/checkout", {app: "victim", component: "other"}); })
  .then(function () {
    document.getElementById("form").submit();
    document.body.setAttribute("data-sent", "true");
  }, function (e) { document.body.setAttribute("data-error", String(e)); });
</script></body></html>
"""


class AttackSite:
    """Serves ATTACK_PAGE at / on 127.0.0.2, an origin that is not GoTel's,
    aimed at the GoTel that target() names."""

    def __init__(self):
        self.page = b""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                page = site.page
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((ATTACKER_HOST, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def target(self, gotel_port):
        self.page = (ATTACK_PAGE % {"gotel": "http://127.0.0.1:%d" % gotel_port}).encode()

    @property
    def origin(self):
        return "http://%s:%d" % (ATTACKER_HOST, self.server.server_address[1])

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@unittest.skipUnless(CHROMIUM, "chromium is not installed (scripts/install-deps installs it)")
class CrossSiteTest(GotelTestCase):
    def setUp(self):
        super().setUp()
        self.profile = tempfile.mkdtemp(prefix="gotel-chromium-")
        self.addCleanup(shutil.rmtree, self.profile, True)

    def chromium(self, url, *extra):
        """Headless Chromium on a fresh profile; the page's timers and requests
        run on a virtual time budget. Returns the DOM at the end."""
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + self.profile,
               "--virtual-time-budget=5000", "--dump-dom"] + list(extra) + [url]
        r = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace")[-2000:])
        return r.stdout.decode("utf-8", "replace")

    def site(self):
        site = AttackSite()
        self.addCleanup(site.close)
        return site

    def attack(self, g, site):
        """Opens the attack page against `g`; returns its DOM."""
        g.reserve("victim", "job", 5, "minutes", owner="ops", notify="ops@example.com")
        g.reserve("victim", "other", 5, "minutes", owner="ops")
        site.target(g.port)
        dom = self.chromium(site.origin + "/")
        self.assertIn('data-sent="true"', dom, "the attack page did not run: " + dom[-500:])
        return dom

    def test_a_page_of_another_origin_changes_nothing(self):
        g = self.server()
        self.attack(g, self.site())
        job = g.job("victim", "job")
        self.assertEqual((job["frequency"], job["time_units"], job["owner"], job["notify"]),
                         (5, "minutes", "ops", "ops@example.com"))
        self.assertIsNotNone(g.job("victim", "other"), "a cross-site POST /checkout was served")
        self.assertIsNone(g.job("fromform", "job"), "a cross-site text/plain form was served")
        # curl lines (no Origin) work as before.
        r = g.post("/checkout", {"app": "victim", "component": "other"})
        self.assertEqual(r.status, 200, r)

    def test_the_same_page_works_once_its_origin_is_allowed(self):
        # The control: with its origin allowed the page does reach GoTel and
        # change things, as every page could before the fix.
        site = self.site()
        g = self.server(args=["--set", "server.allowed_origins=" + site.origin])
        self.attack(g, site)
        job = g.job("victim", "job")
        self.assertEqual((job["frequency"], job["time_units"]), (1, "hours"))
        self.assertIsNone(g.job("victim", "other"))
        self.assertIsNotNone(g.job("fromform", "job"))

    def test_a_name_rebound_to_loopback_is_refused(self):
        g = self.server()
        g.reserve("victim", "job", 5, "minutes", owner="ops")
        dom = self.chromium("http://attacker.example:%d/status" % g.port,
                            "--host-resolver-rules=MAP attacker.example 127.0.0.1")
        self.assertTrue("is not a name of this server" in dom, dom[:300])
        self.assertNotIn("GoTel status", dom)
        self.assertNotIn("victim", dom)
        r = g.get("/reservation", headers={"Host": "attacker.example:%d" % g.port})
        self.assertEqual(r.status, 403, r)
        self.assertJsonContentType(r)
        self.assertIs(r.json()["success"], False)
        self.assertIn("server.allowed_hosts", r.json()["message"])
        # This server's own names are served.
        for host in ["localhost:%d" % g.port, "127.0.0.1:%d" % g.port, "127.0.0.1"]:
            self.assertEqual(g.get("/reservation", headers={"Host": host}).status, 200, host)

    def test_allowed_hosts_names_a_local_reverse_proxy(self):
        g = self.server(args=["--set", "server.allowed_hosts=gotel.internal"])
        r = g.get("/reservation", headers={"Host": "gotel.internal"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(g.get("/reservation", headers={"Host": "attacker.example"}).status, 403)


if __name__ == "__main__":
    unittest.main()
