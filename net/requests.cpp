#include "net/requests.hpp"

#include "actors/cron.hpp"
#include "alerters/channel.hpp"
#include "storage/utf8.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

namespace gotel {

namespace {

using json = nlohmann::json;

/// The body's top-level object with keys lower-cased (GoTel matched keys
/// case-insensitively); or why the body is not one.
using fields = std::map<std::string, json>;

std::variant<fields, rejection> object_of(std::string_view body) {
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return rejection{400, "request body is empty; expected a JSON object"};
  auto doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded())
    return rejection{400, "request body is not valid JSON"};
  if (!doc.is_object())
    return rejection{400, std::string{"request body must be a JSON object, got "}
                            + doc.type_name()};
  fields out;
  for (auto& [key, value] : doc.items()) {
    std::string lower;
    lower.reserve(key.size());
    for (unsigned char c : key)
      lower.push_back(static_cast<char>(std::tolower(c)));
    out[lower] = value;
  }
  return out;
}

bool has_control_chars(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      return true;
  return false;
}

/// A string field: nullopt + rejection set when present with the wrong type or too long.
std::optional<std::string> text(const fields& f, const std::string& name, std::size_t limit,
                                rejection& err) {
  auto i = f.find(name);
  if (i == f.end() || i->second.is_null())
    return std::string{};
  if (!i->second.is_string()) {
    err = {400, name + " must be a string"};
    return std::nullopt;
  }
  auto value = i->second.get<std::string>();
  if (value.size() > limit) {
    err = {413, name + " is longer than " + std::to_string(limit) + " bytes"};
    return std::nullopt;
  }
  return value;
}

/// A name (app, component): required, not blank, no control characters.
std::optional<std::string> name(const fields& f, const std::string& key,
                                const field_limits& lim, rejection& err) {
  auto value = text(f, key, lim.max_field_bytes, err);
  if (!value)
    return std::nullopt;
  if (value->find_first_not_of(' ') == std::string::npos) {
    err = {400, key + " is required and must not be empty"};
    return std::nullopt;
  }
  if (has_control_chars(*value)) {
    err = {400, key + " must not contain control characters"};
    return std::nullopt;
  }
  return value;
}

/// A whole number field (JSON integer, or a float with no fraction).
std::optional<std::int64_t> integer(const fields& f, const std::string& key, rejection& err) {
  auto i = f.find(key);
  if (i == f.end() || i->second.is_null()) {
    err = {400, key + " is required"};
    return std::nullopt;
  }
  auto& v = i->second;
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      err = {400, key + " is too large"};
      return std::nullopt;
    }
    return v.get<std::int64_t>();
  }
  if (v.is_number_float()) {
    auto d = v.get<double>();
    // Range first: converting a double outside int64's range is undefined
    // (found by tests/fuzz/fuzz_json_mapping).
    if (d > -1e15 && d < 1e15 && d == static_cast<double>(static_cast<std::int64_t>(d)))
      return static_cast<std::int64_t>(d);
  }
  err = {400, key + " must be a whole number"};
  return std::nullopt;
}

std::optional<time_unit> unit(const fields& f, const field_limits& lim, rejection& err) {
  auto value = text(f, "time_units", lim.max_field_bytes, err);
  if (!value)
    return std::nullopt;
  if (value->empty()) {
    err = {400, "time_units is required: seconds, minutes, hours or days"};
    return std::nullopt;
  }
  auto u = parse_time_unit(*value);
  if (!u)
    err = {400, "time_units must be seconds, minutes, hours or days, got \"" + *value + "\""};
  return u;
}

/// frequency x unit as milliseconds, checked to be >= 1 s and within bounds.
std::optional<std::int64_t> period(std::int64_t amount, time_unit u, const std::string& key,
                                   rejection& err) {
  if (amount < 1) {
    err = {400, key + " must be at least 1"};
    return std::nullopt;
  }
  if (amount > max_period_ms / unit_ms(u)) {
    err = {400, key + " is too long (at most ten years)"};
    return std::nullopt;
  }
  return amount * unit_ms(u);
}

std::string lower_trimmed(std::string_view text) {
  auto b = text.find_first_not_of(" \t");
  if (b == std::string_view::npos)
    return {};
  auto e = text.find_last_not_of(" \t");
  std::string out;
  for (unsigned char c : text.substr(b, e - b + 1))
    out.push_back(static_cast<char>(std::tolower(c)));
  return out;
}

std::string valid_alerters_text() {
  std::string out;
  for (auto n : alerter_names)
    out += (out.empty() ? "" : ", ") + std::string{n};
  return out;
}

/// A list field given as a JSON array of strings or one comma-separated string
/// (as notify is); `wrong` is the message when it is neither.
std::optional<std::vector<std::string>> string_list(const json& v, const std::string& wrong,
                                                    rejection& err) {
  std::vector<std::string> raw;
  if (v.is_string()) {
    auto text = v.get<std::string>();
    std::size_t pos = 0;
    while (pos <= text.size()) {
      auto comma = std::min(text.find(',', pos), text.size());
      raw.push_back(text.substr(pos, comma - pos));
      pos = comma + 1;
    }
    return raw;
  }
  if (v.is_array()) {
    for (auto& x : v) {
      if (!x.is_string()) {
        err = {400, wrong};
        return std::nullopt;
      }
      raw.push_back(x.get<std::string>());
    }
    return raw;
  }
  err = {400, wrong};
  return std::nullopt;
}

/// A list of alerter names: a JSON array of strings or one comma-separated
/// string (like notify). Names are matched case-insensitively, duplicates
/// dropped; an unknown name is refused with the list of valid ones.
std::optional<std::vector<std::string>> alerter_list(const json& v, const std::string& key,
                                                     rejection& err) {
  auto list = string_list(v, key + " must be a list of alerter names (strings)", err);
  if (!list)
    return std::nullopt;
  auto& raw = *list;
  std::vector<std::string> out;
  for (auto& r : raw) {
    auto name = lower_trimmed(r);
    if (name.empty() && v.is_string())
      continue;  // "email," has an empty tail
    if (!is_alerter_name(name)) {
      err = {400, "unknown alerter \"" + utf8::truncate(r, 64) + "\" in " + key
                    + "; valid alerters: " + valid_alerters_text()};
      return std::nullopt;
    }
    if (std::find(out.begin(), out.end(), name) == out.end())
      out.push_back(std::move(name));
  }
  return out;
}

/// Most escalation steps a reservation may have.
constexpr std::size_t max_escalation_steps = 10;

/// "escalation": [{"after": N, "alerters": [...]}, ...], N whole missed periods
/// (>= 0), at most ten years after the missed deadline; sorted by after.
std::optional<std::vector<escalation_step>> escalation_list(const json& v,
                                                            std::int64_t period_ms,
                                                            rejection& err) {
  if (!v.is_array()) {
    err = {400, "escalation must be a list of {\"after\": N, \"alerters\": [...]} steps"};
    return std::nullopt;
  }
  if (v.size() > max_escalation_steps) {
    err = {400, "escalation has more than " + std::to_string(max_escalation_steps) + " steps"};
    return std::nullopt;
  }
  std::vector<escalation_step> out;
  for (auto& step : v) {
    if (!step.is_object()) {
      err = {400, "each escalation step must be an object {\"after\": N, \"alerters\": [...]}"};
      return std::nullopt;
    }
    fields f;
    for (auto& [k, x] : step.items())
      f[lower_trimmed(k)] = x;
    auto after = integer(f, "after", err);
    if (!after) {
      err.message = "escalation step: " + err.message;
      return std::nullopt;
    }
    if (*after < 0) {
      err = {400, "escalation step: after must be >= 0 (missed periods)"};
      return std::nullopt;
    }
    if (period_ms > 0 && *after > max_period_ms / period_ms) {
      err = {400, "escalation step: after " + std::to_string(*after)
                    + " periods is too long (at most ten years)"};
      return std::nullopt;
    }
    auto a = f.find("alerters");
    if (a == f.end() || a->second.is_null()) {
      err = {400, "escalation step: alerters is required"};
      return std::nullopt;
    }
    auto names = alerter_list(a->second, "escalation step alerters", err);
    if (!names)
      return std::nullopt;
    if (names->empty()) {
      err = {400, "escalation step: alerters must name at least one alerter"};
      return std::nullopt;
    }
    for (auto& o : out)
      if (o.after == *after) {
        err = {400, "escalation: two steps with after " + std::to_string(*after)};
        return std::nullopt;
      }
    out.push_back(escalation_step{*after, std::move(*names)});
  }
  std::sort(out.begin(), out.end(),
            [](const escalation_step& x, const escalation_step& y) { return x.after < y.after; });
  return out;
}

/// Most tags a reservation may carry, and the longest tag.
constexpr std::size_t max_tags = 20;
constexpr std::size_t max_tag_bytes = 64;

/// "tags": a JSON array of strings or one comma-separated string. Tags are
/// lower-cased and trimmed, may hold [a-z0-9_.:-], duplicates are dropped.
std::optional<std::vector<std::string>> tag_list(const json& v, rejection& err) {
  auto list = string_list(v, "tags must be a list of strings", err);
  if (!list)
    return std::nullopt;
  auto& raw = *list;
  std::vector<std::string> out;
  for (auto& r : raw) {
    auto tag = lower_trimmed(r);
    if (tag.empty())
      continue;
    if (tag.size() > max_tag_bytes) {
      err = {400, "tag \"" + utf8::truncate(tag, 64) + "...\" is longer than "
                    + std::to_string(max_tag_bytes) + " bytes"};
      return std::nullopt;
    }
    for (unsigned char c : tag)
      if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':')) {
        err = {400, "tag \"" + tag + "\" may only hold letters, digits and _ - . :"};
        return std::nullopt;
      }
    if (std::find(out.begin(), out.end(), tag) == out.end())
      out.push_back(std::move(tag));
  }
  if (out.size() > max_tags) {
    err = {400, "at most " + std::to_string(max_tags) + " tags"};
    return std::nullopt;
  }
  return out;
}

// -- schedules, runs and signals (docs/pings.md) --------------------------------

/// An optional whole number of seconds in [0, ten years], as milliseconds.
std::optional<std::int64_t> seconds_field(const fields& f, const std::string& key,
                                          rejection& err) {
  auto i = f.find(key);
  if (i == f.end() || i->second.is_null())
    return 0;
  auto value = integer(f, key, err);
  if (!value)
    return std::nullopt;
  if (*value < 0) {
    err = {400, key + " must be >= 0 (seconds)"};
    return std::nullopt;
  }
  if (*value > max_period_ms / 1000) {
    err = {400, key + " is too long (at most ten years)"};
    return std::nullopt;
  }
  return *value * 1000;
}

/// "schedule", "tz", "grace", "max_duration" into `req`; false + `err` when invalid.
bool schedule_fields(const fields& f, const field_limits& lim, reserve_request& req,
                     rejection& err) {
  auto schedule = text(f, "schedule", lim.max_field_bytes, err);
  if (!schedule)
    return false;
  auto tz = text(f, "tz", lim.max_field_bytes, err);
  if (!tz)
    return false;
  if (schedule->find_first_not_of(" \t") != std::string::npos) {
    auto parsed = parse_cron(*schedule);
    if (auto* e = std::get_if<cron_error>(&parsed)) {
      err = {400, "invalid schedule: " + e->message};
      return false;
    }
    if (auto why = time_zone_error(*tz)) {
      err = {400, "invalid tz: " + *why};
      return false;
    }
    req.schedule = std::move(*schedule);
    req.tz = std::move(*tz);
  } else if (!tz->empty()) {
    err = {400, "tz is only used with a cron schedule"};
    return false;
  }
  auto grace = seconds_field(f, "grace", err);
  if (!grace)
    return false;
  auto max_duration = seconds_field(f, "max_duration", err);
  if (!max_duration)
    return false;
  req.grace_ms = *grace;
  req.max_duration_ms = *max_duration;
  return true;
}

/// An optional "run_id" (or Healthchecks' "rid"); empty when absent.
std::optional<std::string> run_id_field(const fields& f, rejection& err) {
  auto key = f.count("run_id") ? "run_id" : "rid";
  auto value = text(f, key, max_run_id_bytes, err);
  if (!value)
    return std::nullopt;
  if (!is_run_id(*value)) {
    err = {400, std::string{key} + " may only hold letters, digits and . _ -"};
    return std::nullopt;
  }
  return value;
}

/// What every run signal carries: app, component, notes and an optional run id.
struct signal_fields {
  std::string app, component, notes, run_id;
};

std::optional<signal_fields> signal_fields_of(const fields& f, const field_limits& lim,
                                              rejection& err) {
  auto app = name(f, "app", lim, err);
  if (!app)
    return std::nullopt;
  auto component = name(f, "component", lim, err);
  if (!component)
    return std::nullopt;
  auto notes = text(f, "notes", lim.max_notes_bytes, err);
  if (!notes)
    return std::nullopt;
  auto run_id = run_id_field(f, err);
  if (!run_id)
    return std::nullopt;
  return signal_fields{std::move(*app), std::move(*component), std::move(*notes),
                       std::move(*run_id)};
}

template <class T, class F>
parse_result<T> with_object(std::string_view body, F&& f) {
  auto obj = object_of(body);
  if (auto* r = std::get_if<rejection>(&obj))
    return *r;
  return f(std::get<fields>(obj));
}

}  // namespace

parse_result<reserve_request> parse_reserve(std::string_view body, const field_limits& lim) {
  return with_object<reserve_request>(body, [&](const fields& f) -> parse_result<reserve_request> {
    rejection err;
    reserve_request req;
    auto app = name(f, "app", lim, err);
    if (!app)
      return err;
    auto component = name(f, "component", lim, err);
    if (!component)
      return err;
    // A cron schedule replaces frequency/time_units (docs/pings.md).
    if (!schedule_fields(f, lim, req, err))
      return err;
    std::optional<std::int64_t> frequency = 0;
    std::optional<time_unit> u = time_unit::minutes;
    if (req.schedule.empty()) {
      frequency = integer(f, "frequency", err);
      if (!frequency)
        return err;
      u = unit(f, lim, err);
      if (!u)
        return err;
      if (!period(*frequency, *u, "frequency", err))
        return err;
    }
    auto owner = text(f, "owner", lim.max_field_bytes, err);
    if (!owner)
      return err;
    auto notify = text(f, "notify", lim.max_notes_bytes, err);
    if (!notify)
      return err;
    // Each address is one SMTP message per alert (issue 14 section 5).
    if (auto n = split_recipients(*notify).size(); n > lim.max_recipients)
      return rejection{400, "notify lists " + std::to_string(n) + " e-mail addresses; at most "
                              + std::to_string(lim.max_recipients)
                              + " are allowed (alerts.max_recipients)"};
    auto alert_msg = text(f, "alert_msg", lim.max_notes_bytes, err);
    if (!alert_msg)
      return err;
    req.app = std::move(*app);
    req.component = std::move(*component);
    req.frequency = *frequency;
    req.unit = *u;
    req.owner = std::move(*owner);
    req.notify = std::move(*notify);
    req.alert_msg = std::move(*alert_msg);
    if (auto a = f.find("alerters"); a != f.end() && !a->second.is_null()) {
      auto names = alerter_list(a->second, "alerters", err);
      if (!names)
        return err;
      req.alerters = std::move(*names);
    }
    if (auto e = f.find("escalation"); e != f.end() && !e->second.is_null()) {
      auto steps = escalation_list(e->second, *frequency * unit_ms(*u), err);
      if (!steps)
        return err;
      req.escalation = std::move(*steps);
    }
    if (auto t = f.find("tags"); t != f.end() && !t->second.is_null()) {
      auto tags = tag_list(t->second, err);
      if (!tags)
        return err;
      req.tags_given = true;
      req.tags = std::move(*tags);
    }
    if (auto m = f.find("manual_resume"); m != f.end() && !m->second.is_null()) {
      if (!m->second.is_boolean())
        return rejection{400, "manual_resume must be true or false"};
      req.manual_resume_given = true;
      req.manual_resume = m->second.get<bool>();
    }
    return req;
  });
}

parse_result<checkin_request> parse_checkin(std::string_view body, const field_limits& lim) {
  return with_object<checkin_request>(body, [&](const fields& f) -> parse_result<checkin_request> {
    rejection err;
    auto sig = signal_fields_of(f, lim, err);
    if (!sig)
      return err;
    // A checkin is a success: it may say so with exit status 0 (gotelctl run
    // does); without one the last exit status becomes unknown.
    std::int32_t exit_status = -1;
    if (auto x = f.find("exit_status"); x != f.end() && !x->second.is_null()) {
      auto code = integer(f, "exit_status", err);
      if (!code)
        return err;
      if (*code != 0)
        return rejection{400, "exit_status must be 0 for a checkin (a failure is /fail with "
                              "1-255)"};
      exit_status = 0;
    }
    return checkin_request{std::move(sig->app), std::move(sig->component), std::move(sig->notes),
                           {}, std::move(sig->run_id), exit_status};
  });
}

parse_result<snooze_request> parse_snooze(std::string_view body, const field_limits& lim) {
  return with_object<snooze_request>(body, [&](const fields& f) -> parse_result<snooze_request> {
    rejection err;
    auto app = name(f, "app", lim, err);
    if (!app)
      return err;
    auto component = name(f, "component", lim, err);
    if (!component)
      return err;
    auto duration = integer(f, "duration", err);
    if (!duration)
      return err;
    auto u = unit(f, lim, err);
    if (!u)
      return err;
    if (*duration < 1)
      return rejection{400, "duration must be greater than 0"};
    auto ms = period(*duration, *u, "duration", err);
    if (!ms)
      return err;
    return snooze_request{std::move(*app), std::move(*component), *ms};
  });
}

parse_result<key_request> parse_key(std::string_view body, const field_limits& lim) {
  return with_object<key_request>(body, [&](const fields& f) -> parse_result<key_request> {
    rejection err;
    auto app = name(f, "app", lim, err);
    if (!app)
      return err;
    auto component = name(f, "component", lim, err);
    if (!component)
      return err;
    return key_request{std::move(*app), std::move(*component)};
  });
}

bool is_run_id(std::string_view text) {
  if (text.size() > max_run_id_bytes)
    return false;
  for (unsigned char c : text)
    if (!(std::isalnum(c) || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

parse_result<signal_request> parse_signal(std::string_view body, signal_kind kind,
                                          const field_limits& lim) {
  return with_object<signal_request>(body, [&](const fields& f) -> parse_result<signal_request> {
    rejection err;
    signal_request req;
    req.kind = kind;
    auto sig = signal_fields_of(f, lim, err);
    if (!sig)
      return err;
    if (kind == signal_kind::fail) {
      if (auto x = f.find("exit_status"); x != f.end() && !x->second.is_null()) {
        auto code = integer(f, "exit_status", err);
        if (!code)
          return err;
        if (*code < 1 || *code > 255)
          return rejection{400, "exit_status must be 1-255 for a failure (0 is a success: "
                                "use /checkin)"};
        req.exit_status = static_cast<std::int32_t>(*code);
      }
    }
    req.app = std::move(sig->app);
    req.component = std::move(sig->component);
    req.notes = std::move(sig->notes);
    req.run_id = std::move(sig->run_id);
    return req;
  });
}

}  // namespace gotel
