#include "net/pings.hpp"

#include "actors/errors.hpp"
#include "actors/ping_id.hpp"
#include "net/manage.hpp"
#include "storage/utf8.hpp"

#include <cctype>
#include <charconv>
#include <memory>
#include <vector>

namespace gotel {

namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto at = text.find(sep);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos)
      return out;
    text.remove_prefix(at + 1);
  }
}

bool is_number(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

/// A last path segment that is a signal: start, fail, log or an exit status.
bool is_verb(std::string_view s) {
  return s == "start" || s == "fail" || s == "log" || is_number(s);
}

/// Applies verb `v` (is_verb) to `req`; false + `err` for an exit status > 255.
bool apply_verb(std::string_view v, signal_request& req, rejection& err) {
  if (v == "start") {
    req.kind = signal_kind::start;
  } else if (v == "fail") {
    req.kind = signal_kind::fail;
  } else if (v == "log") {
    req.kind = signal_kind::log;
  } else {
    int code = 256;
    if (v.size() <= 3)
      std::from_chars(v.data(), v.data() + v.size(), code);
    if (code > 255) {
      err = {400, "invalid url format: exit status must be 0-255"};
      return false;
    }
    req.exit_status = code;
    req.kind = code == 0 ? signal_kind::success : signal_kind::fail;
  }
  return true;
}

http_response text_response(http::status status, std::string body, bool head);

http_response text_response(http::status status, std::string body, bool head) {
  http_response res{status, 11};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  // Pings are signals: no cache or proxy may answer one for the server
  // (Healthchecks' never_cache: clients look for no-cache).
  res.set(http::field::cache_control, "no-cache, no-store, must-revalidate, max-age=0");
  // As Healthchecks: a browser page may ping.
  res.set(http::field::access_control_allow_origin, "*");
  if (!head)
    res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace

/// Asks the actors with a parsed ping and answers; `creates`: the reservation
/// did not exist and ?create=1 makes it (answered 201 "Created").
void send_signal(signal_request signal, bool creates, const ask_fn& ask, responder respond,
                 bool head);

parse_result<signal_request> parse_ping(std::string_view path, std::string_view query) {
  signal_request req;
  rejection err{400, "invalid url format"};
  constexpr std::string_view prefix = "/ping/";
  if (path.substr(0, prefix.size()) != prefix)
    return err;
  auto rest = path.substr(prefix.size());
  if (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  auto parts = split(rest, '/');
  for (auto& p : parts)
    if (p.empty())
      return err;
  // /ping/<uuid> and /ping/<uuid>/<verb>; anything else is the slug form.
  bool by_uuid =
    is_uuid(parts[0]) && (parts.size() == 1 || (parts.size() == 2 && is_verb(parts[1])));
  if (by_uuid) {
    req.uuid = lower_uuid(parts[0]);
    if (parts.size() == 2 && !apply_verb(parts[1], req, err))
      return err;
  } else {
    // One segment that is not a uuid names nothing (Healthchecks: 404).
    if (parts.size() == 1)
      return rejection{404, "not found"};
    if (parts.size() > 3)
      return err;
    if (parts.size() == 3) {
      if (!is_verb(parts[2]))
        return rejection{400, "invalid url format: unknown signal \""
                                + std::string{parts[2].substr(0, 32)}
                                + "\" (use start, fail, log or an exit status)"};
      if (!apply_verb(parts[2], req, err))
        return err;
    }
    auto app = percent_decode(parts[0], false);
    auto component = percent_decode(parts[1], false);
    if (!app || !component)
      return rejection{400, "invalid url format: broken percent-encoding"};
    for (auto* s : {&*app, &*component})
      for (unsigned char c : *s)
        if (c < 0x20 || c == 0x7f)
          return rejection{400, "invalid url format: control characters in a name"};
    if (!utf8::valid(*app) || !utf8::valid(*component))
      return rejection{400, "invalid url format: a name is not valid UTF-8"};
    if (app->find_first_not_of(' ') == std::string::npos
        || component->find_first_not_of(' ') == std::string::npos)
      return err;
    // Healthchecks' slugs are lower-case and it refuses any other; GoTel's
    // names ignore case, so the lower-case slug reaches the same reservation.
    for (unsigned char c : *component)
      if (c >= 'A' && c <= 'Z')
        return err;
    req.app = std::move(*app);
    req.component = std::move(*component);
  }
  // Query: create=1 (slug form only, like Healthchecks) and rid=<run id>.
  if (!query.empty()) {
    for (auto pair : split(query, '&')) {
      auto eq = pair.find('=');
      auto key = pair.substr(0, eq);
      auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!value)
        return rejection{400, "invalid url format: broken percent-encoding in the query"};
      if (key == "create") {
        req.create = *value == "1" || *value == "true";
      } else if (key == "rid") {
        if (value->empty() || !is_run_id(*value))
          return rejection{400, "invalid rid: at most " + std::to_string(max_run_id_bytes)
                                  + " letters, digits, '.', '_' or '-'"};
        req.run_id = std::move(*value);
      }
    }
  }
  if (req.create && !req.uuid.empty())
    req.create = false;  // a uuid names an existing reservation only
  return req;
}

void handle_ping(http_request&& req, std::string_view path, std::string_view query,
                 const std::string& remote, std::size_t max_log_bytes, const ask_fn& ask,
                 responder respond) {
  // Every ping answer says how much of a body is kept, as Healthchecks does.
  respond = [respond = std::move(respond), max_log_bytes](http_response res) {
    res.set("Ping-Body-Limit", std::to_string(max_log_bytes));
    respond(std::move(res));
  };
  auto method = req.method();
  bool head = method == http::verb::head;
  if (method != http::verb::get && !head && method != http::verb::post) {
    auto res = text_response(http::status::method_not_allowed,
                             "method not allowed (use GET, HEAD or POST)", false);
    res.set(http::field::allow, "GET, HEAD, POST");
    respond(std::move(res));
    return;
  }
  auto parsed = parse_ping(path, query);
  if (auto* r = std::get_if<rejection>(&parsed)) {
    respond(text_response(static_cast<http::status>(r->status), r->message, head));
    return;
  }
  auto signal = std::move(std::get<signal_request>(parsed));
  // Healthchecks keeps the first bytes of an oversized body rather than
  // refusing the ping: the signal matters more than the log.
  auto& body = req.body();
  signal.notes = utf8::clean(body, max_log_bytes);
  signal.source = remote;
  // Recorded in the ping history, as Healthchecks records them.
  signal.method = std::string{req.method_string()};
  signal.user_agent = std::string{req[http::field::user_agent].substr(0, max_user_agent_bytes)};
  if (signal.create) {
    // Healthchecks answers 201 "Created" to the ping that created the check:
    // ask first whether it exists (two racing creators may both hear 201).
    key_request key{signal.app, signal.component};
    auto sig = std::make_shared<signal_request>(std::move(signal));
    ask(caf::make_message(get_atom::value, std::move(key)),
        [sig, ask, respond, head](caf::expected<reservation_record> found) {
          bool creates = !found && code_of(found.error()) == errc::not_found;
          sig->create = creates;
          send_signal(std::move(*sig), creates, ask, respond, head);
        });
    return;
  }
  send_signal(std::move(signal), false, ask, respond, head);
}

void send_signal(signal_request signal, bool creates, const ask_fn& ask, responder respond,
                 bool head) {
  ask(caf::make_message(signal_atom::value, std::move(signal)),
      [respond, head, creates](caf::expected<reservation_record> res) {
        if (res) {
          if (creates)
            respond(text_response(http::status::created, "Created", head));
          else
            respond(text_response(http::status::ok, "OK", head));
          return;
        }
        switch (code_of(res.error())) {
          case errc::not_found:
            respond(text_response(http::status::not_found, "not found", head));
            return;
          case errc::invalid_argument:
          case errc::conflict:
            respond(text_response(http::status::bad_request, message_of(res.error()), head));
            return;
          // ?create=1 beyond server.max_reservations_per_app: Healthchecks
          // answers an auto-provisioning over the account's limit with 404.
          case errc::limit_reached:
            respond(text_response(http::status::not_found, "not found", head));
            return;
          default:
            respond(text_response(http::status::service_unavailable,
                                  "unavailable: " + message_of(res.error()), head));
        }
      });
}

}  // namespace gotel
