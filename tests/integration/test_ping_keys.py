"""Per-app ping keys and the reservations-per-app limit against the real binary
(docs/security.md): Healthchecks' /ping/<ping-key>/<slug>, ?key= on the original's
checkin and with real curl lines, refusals that change nothing, no key in the
log, and a limit that refuses the N+1th reservation, frees on checkout and
survives a restart.
"""

import hashlib
import subprocess
import unittest

from gotel_harness import HOST, GotelTestCase

RW_KEY = "rw-key-for-ping-tests"
RO_KEY = "ro-key-for-ping-tests"
BACKUPS_KEY = "pk-backups-3f9a1c7e5d"
ANY_KEY = "pk-every-app-8b2d4f6a"
UNKNOWN_KEY = "pk-not-configured-1e7c"


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


RW = {"X-Api-Key": RW_KEY}


class PingKeyTest(GotelTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.server(
            env={"GOTEL_SERVER_API_KEYS": digest(RW_KEY),
                 "GOTEL_SERVER_READ_ONLY_API_KEYS": digest(RO_KEY),
                 "GOTEL_SERVER_PING_KEYS": "backups:%s, *:%s" % (digest(BACKUPS_KEY),
                                                                 digest(ANY_KEY))},
            args=["--set", "log.level=debug"])
        for app, comp in [("backups", "nightly"), ("billing", "invoices")]:
            r = self.g.post("/reservation", {"app": app, "component": comp, "frequency": 1,
                                             "time_units": "hours"}, headers=RW)
            self.assertEqual(r.status, 200, r)

    def jobs(self):
        r = self.g.get("/reservation", headers=RW)
        self.assertEqual(r.status, 200, r)
        return {(j["app"], j["component"]): j for j in r.json()["result"] if j["app"] != "gotel"}

    def checkins(self, app, comp):
        return self.jobs()[(app, comp)]["number_of_checkins"]

    def assertJsonError(self, resp, status):
        self.assertEqual(resp.status, status, resp)
        self.assertJsonContentType(resp)
        self.assertIs(resp.json()["success"], False)

    def test_healthchecks_slug_url_with_the_key_in_the_path(self):
        g = self.g
        r = g.get("/ping/%s/nightly" % BACKUPS_KEY)
        self.assertEqual((r.status, r.text), (200, "OK"), r)
        self.assertEqual(g.post("/ping/%s/nightly/start?rid=r1" % BACKUPS_KEY, b"").status, 200)
        self.assertEqual(g.post("/ping/%s/nightly/0?rid=r1" % BACKUPS_KEY, b"12 GB").status, 200)
        self.assertEqual(self.checkins("backups", "nightly"), 2)
        # ?create=1 creates in the key's app, with Healthchecks' defaults.
        self.assertEqual(g.get("/ping/%s/weekly?create=1" % BACKUPS_KEY).status, 201)
        self.assertEqual(self.jobs()[("backups", "weekly")]["time_units"], "days")
        # The slug names a component of the key's app only: unknown is 404.
        self.assertEqual(g.get("/ping/%s/invoices" % BACKUPS_KEY).status, 404)
        self.assertEqual(self.checkins("billing", "invoices"), 0)

    def test_original_checkin_and_ping_urls_with_key_query_or_header(self):
        g = self.g
        body = {"app": "backups", "component": "nightly", "notes": "done"}
        self.assertEqual(g.post("/checkin?key=" + BACKUPS_KEY, body).status, 200)
        self.assertEqual(g.post("/checkin", body, headers={"X-Api-Key": BACKUPS_KEY}).status, 200)
        self.assertEqual(g.post("/start?key=" + BACKUPS_KEY, body).status, 200)
        self.assertEqual(g.post("/fail?key=" + BACKUPS_KEY,
                                dict(body, exit_status=3)).status, 200)
        self.assertEqual(g.get("/ping/backups/nightly?key=" + BACKUPS_KEY).status, 200)
        self.assertEqual(g.post("/api/v1/reservations/backups/nightly/checkin?key=" + BACKUPS_KEY,
                                b"").status, 200)
        self.assertEqual(self.checkins("backups", "nightly"), 4)
        # A key for every app checks in anywhere, but cannot create.
        self.assertEqual(g.get("/ping/billing/invoices?key=" + ANY_KEY).status, 200)
        self.assertJsonError(g.get("/ping/billing/new?create=1&key=" + ANY_KEY), 403)
        self.assertNotIn(("billing", "new"), self.jobs())

    def test_real_curl_lines(self):
        base = "http://%s:%d" % (HOST, self.g.port)
        for line in [
            ["curl", "-fsS", "-m", "10", "%s/ping/%s/nightly" % (base, BACKUPS_KEY)],
            ["curl", "-fsS", "-m", "10", "-XPOST", "%s/checkin?key=%s" % (base, BACKUPS_KEY),
             "-d", '{"app":"backups","component":"nightly"}'],
        ]:
            out = subprocess.run(line, capture_output=True, text=True, timeout=20)
            self.assertEqual(out.returncode, 0, out.stderr)
        out = subprocess.run(["curl", "-fsS", "-m", "10", "-XPOST",
                              "%s/checkin?key=%s" % (base, BACKUPS_KEY),
                              "-d", '{"app":"billing","component":"invoices"}'],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 22, "curl -f fails loudly on the 403")
        self.assertEqual(self.checkins("backups", "nightly"), 2)

    def test_wrong_app_is_403_and_changes_nothing(self):
        g = self.g
        other = {"app": "billing", "component": "invoices"}
        self.assertJsonError(g.post("/checkin?key=" + BACKUPS_KEY, other), 403)
        self.assertJsonError(g.post("/checkin", other, headers={"X-Api-Key": BACKUPS_KEY}), 403)
        self.assertJsonError(g.get("/ping/billing/invoices?key=" + BACKUPS_KEY), 403)
        self.assertJsonError(g.post("/api/v1/reservations/billing/invoices/checkin?key="
                                    + BACKUPS_KEY, b""), 403)
        self.assertJsonError(g.get("/ping/billing/new?create=1&key=" + BACKUPS_KEY), 403)
        uuid = self.jobs()[("backups", "nightly")]["uuid"]
        self.assertJsonError(g.get("/ping/%s?key=%s" % (uuid, BACKUPS_KEY)), 403)
        jobs = self.jobs()
        self.assertEqual(jobs[("billing", "invoices")]["number_of_checkins"], 0)
        self.assertEqual(jobs[("backups", "nightly")]["number_of_checkins"], 0)
        self.assertNotIn(("billing", "new"), jobs)

    def test_management_calls_with_a_ping_key_are_refused(self):
        g = self.g
        h = {"X-Api-Key": BACKUPS_KEY}
        res = {"app": "backups", "component": "nightly", "frequency": 5, "time_units": "minutes"}
        for method, path, body in [
            ("GET", "/reservation", None),
            ("POST", "/reservation", res),
            ("POST", "/snooze", dict(res, duration=1, time_units="hours")),
            ("POST", "/checkout", res),
            ("GET", "/status", None),
            ("GET", "/api/v1/reservations?app=backups", None),
            ("GET", "/api/v1/reservations/backups/nightly/pings", None),
            ("PUT", "/api/v1/reservations/backups/nightly", {"frequency": 5,
                                                             "time_units": "minutes"}),
            ("DELETE", "/api/v1/reservations/backups/nightly", None),
            ("POST", "/api/v1/reservations/backups/nightly/pause", None),
        ]:
            with self.subTest(method=method, path=path):
                self.assertJsonError(g.request(method, path, body, headers=h), 403)
                sep = "&" if "?" in path else "?"
                self.assertJsonError(g.request(method, path + sep + "key=" + BACKUPS_KEY, body),
                                     403)
        job = self.jobs()[("backups", "nightly")]
        self.assertEqual((job["frequency"], job["time_units"], job["snoozed_until"]),
                         (1, "hours", 0), "a refused call changed something")

    def test_unknown_keys_are_401(self):
        g = self.g
        body = {"app": "backups", "component": "nightly"}
        r = g.get("/ping/%s/nightly" % UNKNOWN_KEY)
        self.assertJsonError(r, 401)
        self.assertJsonError(g.post("/checkin?key=" + UNKNOWN_KEY, body), 401)
        self.assertJsonError(g.post("/checkin?key=" + RW_KEY, body), 401)  # API keys: headers only
        self.assertJsonError(g.get("/ping/backups/nightly"), 401)
        uuid = self.jobs()[("backups", "nightly")]["uuid"]
        self.assertJsonError(g.get("/ping/" + uuid), 401)  # server.open_uuid_pings is off
        self.assertJsonError(g.get("/ping/" + uuid, headers={"X-Api-Key": RO_KEY}), 403)
        self.assertEqual(self.checkins("backups", "nightly"), 0)

    def test_keys_never_reach_the_log(self):
        g = self.g
        body = {"app": "backups", "component": "nightly"}
        g.get("/ping/%s/nightly" % BACKUPS_KEY)
        g.get("/ping/%s/missing" % BACKUPS_KEY)
        g.get("/ping/%s/nightly/999" % BACKUPS_KEY)
        g.post("/checkin?key=" + BACKUPS_KEY, body)
        g.post("/checkin?key=" + BACKUPS_KEY, {"app": "billing", "component": "invoices"})
        g.post("/checkin?key=" + UNKNOWN_KEY, body)
        g.get("/reservation?key=" + BACKUPS_KEY)
        g.stop()
        with open(g.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        for key in [BACKUPS_KEY, ANY_KEY, UNKNOWN_KEY, RW_KEY]:
            self.assertNotIn(key, log)


class OpenUuidPingsTest(GotelTestCase):
    def test_uuid_is_the_credential_when_configured(self):
        g = self.server(env={"GOTEL_SERVER_API_KEYS": digest(RW_KEY),
                             "GOTEL_SERVER_OPEN_UUID_PINGS": "true"})
        self.assertEqual(g.post("/reservation", {"app": "a", "component": "c", "frequency": 1,
                                                 "time_units": "hours"}, headers=RW).status, 200)
        uuid = [j["uuid"] for j in g.get("/reservation", headers=RW).json()["result"]
                if j["app"] == "a"][0]
        self.assertEqual(g.get("/ping/%s/start" % uuid).status, 200)
        self.assertEqual(g.get("/ping/" + uuid).status, 200)
        self.assertEqual(g.get("/ping/a/c").status, 401, "the slug form still needs a key")


class ReservationLimitTest(GotelTestCase):
    LIMIT = 3

    def start(self, data_dir=None):
        return self.server(args=["--set", "server.max_reservations_per_app=%d" % self.LIMIT],
                           data_dir=data_dir)

    def reserve(self, g, comp, frequency=1):
        return g.post("/reservation", {"app": "etl", "component": comp, "frequency": frequency,
                                       "time_units": "hours"})

    def assertLimit(self, resp):
        self.assertEqual(resp.status, 403, resp)
        self.assertIn("server.max_reservations_per_app", resp.text)

    def user_jobs(self, g):
        return sorted(j["component"] for j in g.user_jobs() if j["app"] == "etl")

    def test_limit_refuses_the_next_allows_updates_frees_on_checkout_and_survives_restart(self):
        g = self.start()
        for i in range(self.LIMIT):
            self.assertEqual(self.reserve(g, "c%d" % i).status, 200)
        r = self.reserve(g, "extra")
        self.assertLimit(r)
        self.assertJsonContentType(r)
        self.assertIs(r.json()["success"], False)
        r = g.request("PUT", "/api/v1/reservations/etl/extra", {"frequency": 1,
                                                                "time_units": "hours"})
        self.assertLimit(r)
        # Healthchecks answers an auto-provisioning over the limit with 404.
        r = g.get("/ping/etl/extra?create=1")
        self.assertEqual((r.status, r.text), (404, "not found"), r)
        self.assertEqual(self.user_jobs(g), ["c0", "c1", "c2"], "a refusal created something")
        # Updates of existing ones, other apps, and check-ins are not limited.
        self.assertEqual(self.reserve(g, "c0", frequency=7).status, 200)
        self.assertEqual(g.job("etl", "c0")["frequency"], 7)
        r = g.request("PUT", "/api/v1/reservations/etl/c1", {"frequency": 2,
                                                             "time_units": "hours"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(g.get("/ping/etl/c2?create=1").status, 200)
        self.assertEqual(g.post("/reservation", {"app": "other", "component": "x",
                                                 "frequency": 1, "time_units": "hours"}).status,
                         200)
        # A checkout frees a slot.
        self.assertEqual(g.post("/checkout", {"app": "etl", "component": "c1"}).status, 200)
        self.assertEqual(self.reserve(g, "c3").status, 200)
        self.assertLimit(self.reserve(g, "c4"))
        # After a restart the count comes from the store.
        g.stop()
        g.start()
        self.assertLimit(self.reserve(g, "c4"))
        self.assertEqual(g.request("DELETE", "/api/v1/reservations/etl/c0").status, 200)
        self.assertEqual(self.reserve(g, "c4").status, 200)
        self.assertEqual(self.user_jobs(g), ["c2", "c3", "c4"])


if __name__ == "__main__":
    unittest.main()
