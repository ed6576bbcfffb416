#include "storage/codec.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <limits>
#include <type_traits>

namespace gotel::codec {

namespace {

using json = nlohmann::json;

// ---- encoding --------------------------------------------------------------

std::string finish(const json& obj) {
  std::string out(1, static_cast<char>(value_version));
  json::to_msgpack(obj, nlohmann::detail::output_adapter<char>(out));
  return out;
}

// ---- decoding --------------------------------------------------------------

/// Accepts exactly one flat MessagePack map of scalar values and builds it as a
/// json object. Arrays, nested maps, binaries and duplicate keys are refused
/// *while parsing*: nlohmann's reader recurses per nesting level, so refusing
/// nesting up front is what keeps hostile input from exhausting the stack.
class flat_map_reader final : public json::json_sax_t {
 public:
  json result = json::object();

  bool null() override { return value(nullptr); }
  bool boolean(bool v) override { return value(v); }
  bool number_integer(number_integer_t v) override { return value(v); }
  bool number_unsigned(number_unsigned_t v) override { return value(v); }
  bool number_float(number_float_t v, const string_t&) override { return value(v); }
  bool string(string_t& v) override { return value(std::move(v)); }
  bool binary(binary_t&) override { return false; }

  bool start_object(std::size_t) override {
    if (started_) return false;  // only the top-level map
    started_ = true;
    depth_ = 1;
    return true;
  }
  bool key(string_t& k) override {
    if (result.contains(k)) return false;  // duplicate keys are ambiguous
    key_ = std::move(k);
    have_key_ = true;
    return true;
  }
  bool end_object() override {
    if (depth_ != 1) return false;
    depth_ = 0;
    return true;
  }
  bool start_array(std::size_t) override { return false; }
  bool end_array() override { return false; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

  bool complete() const { return started_ && depth_ == 0; }

 private:
  template <class T>
  bool value(T&& v) {
    if (depth_ != 1 || !have_key_) return false;  // a bare scalar is not a record
    result[key_] = std::forward<T>(v);
    have_key_ = false;
    return true;
  }

  bool started_ = false;
  int depth_ = 0;
  bool have_key_ = false;
  std::string key_;
};

/// Parses the version byte and the map; nullopt for anything else.
std::optional<json> parse(std::string_view bytes) {
  if (bytes.empty() || static_cast<unsigned char>(bytes[0]) != value_version)
    return std::nullopt;
  flat_map_reader reader;
  try {
    auto* first = reinterpret_cast<const std::uint8_t*>(bytes.data()) + 1;
    auto* last = reinterpret_cast<const std::uint8_t*>(bytes.data()) + bytes.size();
    if (!json::sax_parse(first, last, &reader, json::input_format_t::msgpack, true))
      return std::nullopt;
  } catch (...) {
    // The SAX path reports errors through parse_error; this is belt and braces
    // (e.g. std::bad_alloc), since a decoder must never throw.
    return std::nullopt;
  }
  if (!reader.complete()) return std::nullopt;
  return std::move(reader.result);
}

/// Typed access to the fields of one decoded map. Every getter leaves `ok`
/// false on a wrong type or a missing required field; missing optional fields
/// keep the default already in `out`.
class fields {
 public:
  explicit fields(const json& obj) : obj_(obj) {}

  bool ok = true;

  template <class Int>
  void integer(const char* name, Int& out, bool required = false) {
    static_assert(std::is_integral_v<Int>);
    const json* v = find(name, required);
    if (v == nullptr) return;
    if (v->is_number_unsigned()) {
      auto u = v->get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) return fail();
      out = static_cast<Int>(u);
    } else if (v->is_number_integer()) {
      auto i = v->get<std::int64_t>();
      if constexpr (std::is_signed_v<Int>) {
        if (i < static_cast<std::int64_t>(std::numeric_limits<Int>::min()) ||
            i > static_cast<std::int64_t>(std::numeric_limits<Int>::max()))
          return fail();
      } else {
        if (i < 0 || static_cast<std::uint64_t>(i) > std::numeric_limits<Int>::max())
          return fail();
      }
      out = static_cast<Int>(i);
    } else {
      fail();
    }
  }

  void text(const char* name, std::string& out, bool required = false) {
    const json* v = find(name, required);
    if (v == nullptr) return;
    if (!v->is_string()) return fail();
    out = v->get_ref<const std::string&>();
  }

  /// An enum stored as its underlying number; values above `max` are refused.
  template <class Enum>
  void enumeration(const char* name, Enum& out, Enum max, bool required = false) {
    using U = std::underlying_type_t<Enum>;
    U raw = static_cast<U>(out);
    integer(name, raw, required);
    if (ok && raw > static_cast<U>(max)) return fail();
    if (ok) out = static_cast<Enum>(raw);
  }

 private:
  const json* find(const char* name, bool required) {
    auto it = obj_.find(name);
    if (it == obj_.end()) {
      if (required) fail();
      return nullptr;
    }
    return &*it;
  }
  void fail() { ok = false; }

  const json& obj_;
};

constexpr bool required = true;

// ---- lists in one string ----------------------------------------------------
// The value map is flat (nesting is refused, see flat_map_reader), so the
// alerter list and the escalation policy are stored as text: names joined by
// ',' and steps "after=name,name" joined by ';'. Channel names never contain
// ',', ';' or '=' (the API accepts only known names).

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ',';
    out += n;
  }
  return out;
}

std::vector<std::string> split_names(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto part = text.substr(0, comma);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string encode_escalation(const std::vector<escalation_step>& steps) {
  std::string out;
  for (const auto& s : steps) {
    if (!out.empty()) out += ';';
    out += std::to_string(s.after) + "=" + join_names(s.alerters);
  }
  return out;
}

/// nullopt when `text` is not a list of "after=names" steps with after >= 0.
std::optional<std::vector<escalation_step>> decode_escalation(std::string_view text) {
  std::vector<escalation_step> out;
  while (!text.empty()) {
    auto semi = text.find(';');
    auto part = text.substr(0, semi);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    escalation_step step;
    auto [end, ec] = std::from_chars(part.data(), part.data() + eq, step.after);
    if (ec != std::errc{} || end != part.data() + eq || step.after < 0) return std::nullopt;
    step.alerters = split_names(part.substr(eq + 1));
    out.push_back(std::move(step));
    if (semi == std::string_view::npos) break;
    text.remove_prefix(semi + 1);
  }
  return out;
}

// ---- schedules, runs and ping URLs (docs/pings.md) ---------------------------
// Open runs are stored as "started_ms:alerted:id" joined by ';'. Run ids are
// [A-Za-z0-9._-] (the API refuses anything else), so ':' and ';' never occur.

std::string encode_runs(const std::vector<run_entry>& runs) {
  std::string out;
  for (const auto& run : runs) {
    if (!out.empty()) out += ';';
    out += std::to_string(run.started_ms) + (run.alerted ? ":1:" : ":0:") + run.id;
  }
  return out;
}

/// nullopt when `text` is not a list of "started:alerted:id" entries.
std::optional<std::vector<run_entry>> decode_runs(std::string_view text) {
  std::vector<run_entry> out;
  while (!text.empty()) {
    auto semi = text.find(';');
    auto part = text.substr(0, semi);
    auto c1 = part.find(':');
    if (c1 == std::string_view::npos || part.size() < c1 + 3 || part[c1 + 2] != ':')
      return std::nullopt;
    run_entry run;
    auto [end, ec] = std::from_chars(part.data(), part.data() + c1, run.started_ms);
    if (ec != std::errc{} || end != part.data() + c1) return std::nullopt;
    if (part[c1 + 1] != '0' && part[c1 + 1] != '1') return std::nullopt;
    run.alerted = part[c1 + 1] == '1';
    run.id = std::string{part.substr(c1 + 3)};
    out.push_back(std::move(run));
    if (semi == std::string_view::npos) break;
    text.remove_prefix(semi + 1);
  }
  return out;
}

/// The fields added for schedules, runs and pings; written only when not default.
void encode_signals(const reservation_record& r, json& o) {
  if (!r.uuid.empty()) o["uu"] = r.uuid;
  if (!r.schedule.empty()) o["sc"] = r.schedule;
  if (!r.tz.empty()) o["tz"] = r.tz;
  if (r.grace_ms != 0) o["gr"] = r.grace_ms;
  if (r.max_duration_ms != 0) o["md"] = r.max_duration_ms;
  if (!r.runs.empty()) o["rn"] = encode_runs(r.runs);
  if (r.last_duration_ms != 0) o["ld"] = r.last_duration_ms;
  if (r.total_duration_ms != 0) o["td"] = r.total_duration_ms;
  if (r.runs_finished != 0) o["rf"] = r.runs_finished;
  if (r.failed_since_ms != 0) o["fs"] = r.failed_since_ms;
  if (r.fail_alerted_ms != 0) o["fa"] = r.fail_alerted_ms;
  if (r.last_exit_status != -1) o["xs"] = r.last_exit_status;
  if (r.pings != 0) o["pg"] = r.pings;
  if (r.manual_resume) o["mr"] = 1;
}

bool decode_signals(fields& f, reservation_record& r) {
  f.text("uu", r.uuid);
  f.text("sc", r.schedule);
  f.text("tz", r.tz);
  f.integer("gr", r.grace_ms);
  f.integer("md", r.max_duration_ms);
  std::string runs;
  f.text("rn", runs);
  f.integer("ld", r.last_duration_ms);
  f.integer("td", r.total_duration_ms);
  f.integer("rf", r.runs_finished);
  f.integer("fs", r.failed_since_ms);
  f.integer("fa", r.fail_alerted_ms);
  f.integer("xs", r.last_exit_status);
  f.integer("pg", r.pings);
  std::uint8_t manual_resume = 0;
  f.integer("mr", manual_resume);
  if (!f.ok || manual_resume > 1) return false;
  r.manual_resume = manual_resume == 1;
  // Negative slack or limits would make deadline arithmetic run backwards.
  if (r.grace_ms < 0 || r.max_duration_ms < 0 || r.last_duration_ms < 0
      || r.total_duration_ms < 0 || r.last_exit_status < -1 || r.last_exit_status > 255)
    return false;
  auto decoded = decode_runs(runs);
  if (!decoded || decoded->size() > max_open_runs) return false;
  r.runs = std::move(*decoded);
  return true;
}

}  // namespace

// Field names are short because they are stored once per value; FORMAT.md has
// the table. Append new optional fields freely; renaming or changing the type
// of one needs a new value_version.

std::string encode(const reservation_record& r) {
  json o = json::object();
  o["id"] = r.job_id;
  o["a"] = r.app;
  o["c"] = r.component;
  o["o"] = r.owner;
  o["n"] = r.notify;
  o["m"] = r.alert_msg;
  o["f"] = r.frequency;
  o["u"] = static_cast<std::uint8_t>(r.unit);
  o["cr"] = r.created_ms;
  o["lc"] = r.last_checkin_ms;
  o["k"] = r.checkins;
  o["sz"] = r.snooze_until_ms;
  o["ls"] = r.late_since_ms;
  o["la"] = r.last_alert_ms;
  o["al"] = r.alerts;
  if (!r.alerters.empty()) o["ar"] = join_names(r.alerters);
  if (!r.escalation.empty()) o["es"] = encode_escalation(r.escalation);
  if (r.escalation_level != 0) o["el"] = r.escalation_level;
  if (r.revision != 0) o["rv"] = r.revision;
  if (!r.tags.empty()) o["tg"] = join_names(r.tags);
  encode_signals(r, o);
  return finish(o);
}

std::optional<reservation_record> decode_reservation(std::string_view bytes) {
  auto obj = parse(bytes);
  if (!obj) return std::nullopt;
  reservation_record r;
  fields f(*obj);
  f.integer("id", r.job_id, required);
  f.text("a", r.app, required);
  f.text("c", r.component, required);
  f.text("o", r.owner);
  f.text("n", r.notify);
  f.text("m", r.alert_msg);
  f.integer("f", r.frequency, required);
  f.enumeration("u", r.unit, time_unit::days, required);
  f.integer("cr", r.created_ms);
  f.integer("lc", r.last_checkin_ms);
  f.integer("k", r.checkins);
  f.integer("sz", r.snooze_until_ms);
  f.integer("ls", r.late_since_ms);
  f.integer("la", r.last_alert_ms);
  f.integer("al", r.alerts);
  std::string alerters, escalation;
  f.text("ar", alerters);
  f.text("es", escalation);
  f.integer("el", r.escalation_level);
  f.integer("rv", r.revision);
  std::string tags;
  f.text("tg", tags);
  if (!f.ok) return std::nullopt;
  r.alerters = split_names(alerters);
  r.tags = split_names(tags);
  if (!decode_signals(f, r)) return std::nullopt;
  auto steps = decode_escalation(escalation);
  if (!steps) return std::nullopt;
  r.escalation = std::move(*steps);
  // A period that is not positive, or whose milliseconds overflow, would make
  // deadline arithmetic undefined; such a value is not a reservation.
  if (r.frequency < 1 || r.frequency > std::numeric_limits<std::int64_t>::max() / unit_ms(r.unit))
    return std::nullopt;
  return r;
}

std::string encode(const checkin_entry& e) {
  json o = json::object();
  o["t"] = e.at_ms;
  o["n"] = e.notes;
  o["s"] = e.source;
  if (!e.kind.empty()) o["x"] = e.kind;
  if (!e.method.empty()) o["m"] = e.method;
  if (!e.user_agent.empty()) o["ua"] = e.user_agent;
  if (!e.run_id.empty()) o["r"] = e.run_id;
  if (e.duration_ms >= 0) o["d"] = e.duration_ms;
  if (e.exit_status >= 0) o["xs"] = e.exit_status;
  return finish(o);
}

std::optional<checkin_entry> decode_checkin(std::string_view bytes) {
  auto obj = parse(bytes);
  if (!obj) return std::nullopt;
  checkin_entry e;
  fields f(*obj);
  f.integer("t", e.at_ms, required);
  f.text("n", e.notes);
  f.text("s", e.source);
  f.text("x", e.kind);
  f.text("m", e.method);
  f.text("ua", e.user_agent);
  f.text("r", e.run_id);
  f.integer("d", e.duration_ms);
  f.integer("xs", e.exit_status);
  if (!f.ok || e.duration_ms < -1 || e.exit_status < -1 || e.exit_status > 255)
    return std::nullopt;
  return e;
}

std::string encode(const alert_intent& i) {
  json o = json::object();
  o["id"] = i.id;
  o["dk"] = i.dedup_key;
  o["k"] = static_cast<std::uint8_t>(i.kind);
  o["ch"] = i.channel;
  o["j"] = i.job_id;
  o["a"] = i.app;
  o["c"] = i.component;
  o["o"] = i.owner;
  o["n"] = i.notify;
  o["m"] = i.message;
  o["d"] = i.deadline_ms;
  o["cr"] = i.created_ms;
  o["at"] = i.attempts;
  o["na"] = i.next_attempt_ms;
  o["e"] = i.last_error;
  if (!i.progress.empty()) o["p"] = i.progress;
  return finish(o);
}

std::optional<alert_intent> decode_intent(std::string_view bytes) {
  auto obj = parse(bytes);
  if (!obj) return std::nullopt;
  alert_intent i;
  fields f(*obj);
  f.integer("id", i.id, required);
  f.text("dk", i.dedup_key, required);
  f.enumeration("k", i.kind, alert_kind::recovered, required);
  f.text("ch", i.channel, required);
  f.integer("j", i.job_id);
  f.text("a", i.app);
  f.text("c", i.component);
  f.text("o", i.owner);
  f.text("n", i.notify);
  f.text("m", i.message);
  f.integer("d", i.deadline_ms);
  f.integer("cr", i.created_ms);
  f.integer("at", i.attempts);
  f.integer("na", i.next_attempt_ms);
  f.text("e", i.last_error);
  f.text("p", i.progress);
  if (!f.ok) return std::nullopt;
  return i;
}

std::string encode(const alert_log_entry& e) {
  json o = json::object();
  o["t"] = e.at_ms;
  o["j"] = e.job_id;
  o["a"] = e.app;
  o["c"] = e.component;
  o["k"] = static_cast<std::uint8_t>(e.kind);
  o["ch"] = e.channel;
  o["dk"] = e.dedup_key;
  o["r"] = e.outcome;
  return finish(o);
}

std::optional<alert_log_entry> decode_alert_log(std::string_view bytes) {
  auto obj = parse(bytes);
  if (!obj) return std::nullopt;
  alert_log_entry e;
  fields f(*obj);
  f.integer("t", e.at_ms, required);
  f.integer("j", e.job_id);
  f.text("a", e.app);
  f.text("c", e.component);
  f.enumeration("k", e.kind, alert_kind::recovered, required);
  f.text("ch", e.channel);
  f.text("dk", e.dedup_key);
  f.text("r", e.outcome);
  if (!f.ok) return std::nullopt;
  return e;
}

std::string encode(const unconfirmed_write& w) {
  json o = json::object();
  o["rm"] = w.removed ? 1 : 0;
  o["v"] = w.revision;
  o["u"] = w.uuid;
  return finish(o);
}

std::optional<unconfirmed_write> decode_unconfirmed(std::string_view bytes) {
  auto obj = parse(bytes);
  if (!obj) return std::nullopt;
  unconfirmed_write w;
  std::uint8_t removed = 0;
  fields f(*obj);
  f.integer("rm", removed, required);
  f.integer("v", w.revision);
  f.text("u", w.uuid);
  if (!f.ok || removed > 1) return std::nullopt;
  w.removed = removed == 1;
  return w;
}

}  // namespace gotel::codec
