// gotelctl: GoTel's command-line client (docs/api.md). Talks to one node over
// HTTP with libcurl: reserve, checkin, snooze, checkout, list, status, and
// `run -- <command>`, which wraps a cron job: start signal, run, then success
// or failure with the exit code and the tail of the output.
//
// The base URL comes from --url or GOTELCTL_URL (not GOTEL_*: the daemon
// refuses unknown GOTEL_* variables, and both may share an environment). An
// https:// URL is verified against the system CAs, or --cacert/GOTELCTL_CACERT.

#include "storage/utf8.hpp"

#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using json = nlohmann::json;

struct client {
  std::string base = "http://127.0.0.1:8080";
  std::string api_key;
  long timeout_s = 10;
  std::string ca_file;    ///< PEM CA bundle for https://; empty = the system's
  bool insecure = false;  ///< skip certificate verification (tests, first setup)
};

struct reply {
  long status = 0;      ///< 0 = no HTTP answer (see error)
  std::string body;
  std::string error;    ///< transport error, when status is 0
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

reply http(const client& c, const std::string& method, const std::string& path,
           const std::optional<json>& body = std::nullopt) {
  reply r;
  CURL* curl = curl_easy_init();
  if (!curl) {
    r.error = "libcurl failed to initialise";
    return r;
  }
  auto url = c.base;
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  url += path;
  std::string payload = body ? gotel::json_text(*body) : std::string{};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  if (body)
    headers = curl_slist_append(headers, "Content-Type: application/json");
  std::string key_header = "X-Api-Key: " + c.api_key;
  if (!c.api_key.empty())
    headers = curl_slist_append(headers, key_header.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, c.timeout_s);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  if (!c.ca_file.empty())
    curl_easy_setopt(curl, CURLOPT_CAINFO, c.ca_file.c_str());
  if (c.insecure) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  }
  auto rc = curl_easy_perform(curl);
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  else
    r.error = std::string{curl_easy_strerror(rc)} + " (" + url + ")";
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

std::string escape(const std::string& segment) {
  std::string out;
  char* e = curl_easy_escape(nullptr, segment.c_str(), static_cast<int>(segment.size()));
  if (e) {
    out = e;
    curl_free(e);
  }
  return out;
}

std::string job_path(const std::string& app, const std::string& component,
                     const std::string& suffix = "") {
  return "/api/v1/reservations/" + escape(app) + "/" + escape(component) + suffix;
}

/// The server's message, or the body, or the transport error: for stderr.
std::string what(const reply& r) {
  if (r.status == 0)
    return "cannot reach GoTel: " + r.error;
  auto doc = json::parse(r.body, nullptr, false);
  if (doc.is_object() && doc.contains("message") && doc["message"].is_string())
    return "HTTP " + std::to_string(r.status) + ": " + doc["message"].get<std::string>();
  return "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 500);
}

bool ok(const reply& r) {
  return r.status >= 200 && r.status < 300;
}

/// Prints `r` (raw with --json, else `text_of(doc)`); exit code 0 or 1.
template <class F>
int report(const reply& r, bool raw, F text_of) {
  if (!ok(r)) {
    std::cerr << "gotelctl: " << what(r) << "\n";
    return 1;
  }
  if (raw) {
    std::cout << r.body << "\n";
    return 0;
  }
  auto doc = json::parse(r.body, nullptr, false);
  std::cout << text_of(doc);
  return 0;
}

std::string message_of(const json& doc) {
  if (doc.is_object() && doc.contains("message"))
    return doc["message"].get<std::string>() + "\n";
  return gotel::json_text(doc) + "\n";
}

std::string state_word(const std::string& status) {
  return status == "late" ? "FAILING" : status == "paused" ? "SNOOZED" : "OK";
}

std::string join(const json& list, const char* sep) {
  std::string out;
  for (auto& x : list)
    out += (out.empty() ? "" : sep) + x.get<std::string>();
  return out;
}

std::string str(const json& j, const char* key) {
  if (!j.contains(key))
    return "";
  auto& v = j[key];
  return v.is_string() ? v.get<std::string>() : gotel::json_text(v);
}

std::string table(const json& jobs) {
  std::vector<std::vector<std::string>> rows{
    {"STATUS", "APP", "COMPONENT", "EVERY", "LAST CHECKIN", "CHECKINS", "TAGS"}};
  for (auto& j : jobs)
    rows.push_back({state_word(str(j, "status")), str(j, "app"), str(j, "component"),
                    str(j, "frequency") + " " + str(j, "time_units"),
                    str(j, "time_since_last_checkin"), str(j, "number_of_checkins"),
                    join(j.value("tags", json::array()), ",")});
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  std::string out;
  for (auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size())
        out += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += "\n";
  }
  return out;
}

// -- run: wrap a command ------------------------------------------------------

/// Keeps the last `cap` bytes written through it.
struct tail_buffer {
  std::size_t cap;
  std::string data;
  void add(const char* p, std::size_t n) {
    data.append(p, n);
    if (data.size() > 2 * cap)
      data.erase(0, data.size() - cap);
  }
  std::string text() const {
    return data.size() > cap ? data.substr(data.size() - cap) : data;
  }
};

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    auto w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

/// Runs `argv`, passing its stdout and stderr through while keeping their tail.
/// Returns the exit status (128 + signal when killed; 127 when it cannot run).
int run_command(const std::vector<std::string>& argv, tail_buffer& tail) {
  int out[2], err[2];
  if (::pipe(out) != 0 || ::pipe(err) != 0) {
    std::perror("gotelctl: pipe");
    return 127;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("gotelctl: fork");
    return 127;
  }
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(out[1]);
    ::close(err[0]);
    ::close(err[1]);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "gotelctl: cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      auto n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      write_all(i == 0 ? 1 : 2, buf, static_cast<std::size_t>(n));
      tail.add(buf, static_cast<std::size_t>(n));
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return 1;
}

std::string new_run_id() {
  std::random_device rd;
  std::mt19937_64 gen{rd()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

/// A 404 that means "this server has no such endpoint" (an older GoTel), not
/// "no such reservation".
bool endpoint_missing(const reply& r) {
  return r.status == 404 && r.body.find("no such endpoint") != std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gotelctl: GoTel's command-line client (docs/api.md)"};
  app.require_subcommand(1);
  client c;
  bool raw = false;
  app.add_option("--url", c.base, "GoTel's base URL")
    ->envname("GOTELCTL_URL")
    ->capture_default_str();
  app.add_option("--api-key", c.api_key, "API key (X-Api-Key)")->envname("GOTELCTL_API_KEY");
  app.add_option("--timeout", c.timeout_s, "Seconds per HTTP request")->capture_default_str();
  app.add_option("--cacert", c.ca_file, "CA certificate(s), PEM, to verify an https:// URL with")
    ->envname("GOTELCTL_CACERT")
    ->check(CLI::ExistingFile);
  app.add_flag("-k,--insecure", c.insecure,
               "Do not verify the server's TLS certificate (anyone in between can read the key)");
  app.add_flag("--json", raw, "Print the server's JSON answer as is");

  std::string job_app, component;
  auto key_args = [&](CLI::App* sub) {
    sub->add_option("app", job_app, "Application")->required();
    sub->add_option("component", component, "Component")->required();
  };

  auto* reserve = app.add_subcommand("reserve", "Create or update a reservation (idempotent)");
  key_args(reserve);
  std::int64_t every = 0;
  std::string units = "minutes", owner, notify, alert_msg;
  std::vector<std::string> tags;
  reserve->add_option("--every", every, "Expected interval between checkins")->required();
  reserve->add_option("--units", units, "seconds, minutes, hours or days")->capture_default_str();
  reserve->add_option("--owner", owner, "Owner");
  reserve->add_option("--notify", notify, "Comma-separated e-mail recipients");
  reserve->add_option("--alert-msg", alert_msg, "Alert template");
  reserve->add_option("--tag", tags, "A tag (repeatable)");

  auto* checkin = app.add_subcommand("checkin", "Check in");
  key_args(checkin);
  std::string notes;
  checkin->add_option("--notes", notes, "Notes stored with the checkin");

  auto* snooze = app.add_subcommand("snooze", "Suppress alerts for a while (or --cancel)");
  key_args(snooze);
  std::int64_t duration = 1;
  std::string snooze_units = "hours";
  bool cancel = false;
  snooze->add_option("--for", duration, "How long")->capture_default_str();
  snooze->add_option("--units", snooze_units, "seconds, minutes, hours or days")
    ->capture_default_str();
  snooze->add_flag("--cancel", cancel, "Cancel a snooze or pause");

  auto* checkout = app.add_subcommand("checkout", "Remove a reservation and its history");
  key_args(checkout);

  auto* list = app.add_subcommand("list", "List reservations");
  std::string tag_filter, status_filter, app_filter;
  list->add_option("--tag", tag_filter, "Only with this tag");
  list->add_option("--status", status_filter, "ok, late or paused")
    ->check(CLI::IsMember({"ok", "late", "paused"}));
  list->add_option("--app", app_filter, "Only this app");

  auto* status = app.add_subcommand("status", "This node's status, or one reservation's");
  status->add_option("app", job_app, "Application");
  status->add_option("component", component, "Component");

  auto* run = app.add_subcommand(
    "run", "Run a command as a job: start, run, then success or failure with its exit code");
  key_args(run);
  std::size_t tail_bytes = 2000;
  std::vector<std::string> command;
  run->add_option("--tail", tail_bytes, "Bytes of output sent as notes")->capture_default_str();
  run->add_option("command", command, "The command, after --")->required()->allow_extra_args();
  run->positionals_at_end();

  CLI11_PARSE(app, argc, argv);
  if (!command.empty() && command.front() == "--")
    command.erase(command.begin());  // CLI11 may keep the separator
  if (*run && command.empty()) {
    std::cerr << "gotelctl: run needs a command after --\n";
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);

  int rc = 0;
  if (*reserve) {
    json body{{"frequency", every}, {"time_units", units}, {"tags", tags}};
    if (!owner.empty())
      body["owner"] = owner;
    if (!notify.empty())
      body["notify"] = notify;
    if (!alert_msg.empty())
      body["alert_msg"] = alert_msg;
    rc = report(http(c, "PUT", job_path(job_app, component), body), raw, [](const json& d) {
      auto& r = d["reservation"];
      return std::string{d.value("created", false) ? "created " : "updated "} + str(r, "app")
             + "/" + str(r, "component") + " (job " + str(r, "job_id") + ")\n";
    });
  } else if (*checkin) {
    rc = report(http(c, "POST", "/checkin",
                     json{{"app", job_app}, {"component", component}, {"notes", notes}}),
                raw, message_of);
  } else if (*snooze) {
    json key{{"app", job_app}, {"component", component}};
    if (cancel) {
      rc = report(http(c, "DELETE", "/snooze", key), raw, message_of);
    } else {
      key["duration"] = duration;
      key["time_units"] = snooze_units;
      rc = report(http(c, "POST", "/snooze", key), raw, message_of);
    }
  } else if (*checkout) {
    rc = report(http(c, "POST", "/checkout", json{{"app", job_app}, {"component", component}}),
                raw, message_of);
  } else if (*list) {
    std::string query;
    auto add = [&](const char* k, const std::string& v) {
      if (!v.empty())
        query += (query.empty() ? "?" : "&") + std::string{k} + "=" + escape(v);
    };
    add("tag", tag_filter);
    add("status", status_filter);
    add("app", app_filter);
    // The API answers a page at a time (docs/api.md): follow next_cursor and
    // list every page as one.
    add("limit", "5000");
    auto first = http(c, "GET", "/api/v1/reservations" + query);
    auto all = ok(first) ? json::parse(first.body, nullptr, false) : json{};
    for (int page = 0; page < 100000 && all.is_object() && all.contains("next_cursor")
                       && all["next_cursor"].is_string();
         ++page) {
      auto more = http(c, "GET", "/api/v1/reservations" + query + "&cursor="
                                   + escape(all["next_cursor"].get<std::string>()));
      auto doc = ok(more) ? json::parse(more.body, nullptr, false) : json{};
      if (!doc.is_object() || !doc.contains("result")) {
        first = more;  // report the failure
        break;
      }
      for (auto& row : doc["result"])
        all["result"].push_back(row);
      all["next_cursor"] = doc["next_cursor"];
    }
    if (ok(first) && all.is_object())
      first.body = gotel::json_text(all);
    rc = report(first, raw, [](const json& d) { return table(d["result"]); });
  } else if (*status) {
    if (job_app.empty()) {
      rc = report(http(c, "GET", "/api/v1/status"), raw, [](const json& d) {
        return "node " + str(d, "node_id") + (d.value("coordinator", false) ? " (coordinator)" : " (worker)")
               + ", coordinator " + str(d, "coordinator_id") + "\n" + str(d, "reservations")
               + " reservations: " + str(d, "ok") + " OK, " + str(d, "late") + " FAILING, "
               + str(d, "paused") + " SNOOZED\n";
      });
    } else if (component.empty()) {
      std::cerr << "gotelctl: status needs both app and component (or neither)\n";
      rc = 2;
    } else {
      auto one = http(c, "GET", job_path(job_app, component));
      rc = report(one, raw, [](const json& d) {
        auto& r = d["reservation"];
        std::string out = state_word(str(r, "status")) + "  " + str(r, "app") + "/"
                          + str(r, "component") + "  every " + str(r, "frequency") + " "
                          + str(r, "time_units") + "\n";
        out += "last checkin: "
               + (r.value("last_checkin", 0) ? str(r, "last_checkin_str") + " ("
                                                  + str(r, "time_since_last_checkin") + ")"
                                            : std::string{"never"})
               + ", checkins: " + str(r, "number_of_checkins") + ", alerts: " + str(r, "alerts")
               + "\n";
        if (!r.value("tags", json::array()).empty())
          out += "tags: " + join(r["tags"], ", ") + "\n";
        return out;
      });
    }
  } else if (*run) {
    auto id = new_run_id();
    json key{{"app", job_app}, {"component", component}, {"run_id", id}};
    auto started = http(c, "POST", "/start", key);
    if (!ok(started) && !endpoint_missing(started))
      std::cerr << "gotelctl: start signal failed: " << what(started) << "\n";
    auto t0 = std::chrono::steady_clock::now();
    tail_buffer tail{tail_bytes, {}};
    int code = run_command(command, tail);
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    char took[64];
    std::snprintf(took, sizeof took, "exit %d after %.1f s", code, secs);
    auto notes_text = std::string{took} + (tail.text().empty() ? "" : "\n" + tail.text());
    json done = key;
    done["notes"] = notes_text;
    reply r;
    if (code == 0) {
      done["exit_status"] = 0;  // replaces the status of an earlier failed run
      r = http(c, "POST", "/checkin", done);
    } else {
      done["exit_status"] = std::min(code, 255);
      r = http(c, "POST", "/fail", done);
      if (endpoint_missing(r))
        std::cerr << "gotelctl: this GoTel has no /fail; the missed checkin will alert\n";
    }
    if (!ok(r) && !endpoint_missing(r))
      std::cerr << "gotelctl: reporting the run failed: " << what(r) << "\n";
    rc = code;  // cron sees the command's own exit status
  }
  curl_global_cleanup();
  return rc;
}
