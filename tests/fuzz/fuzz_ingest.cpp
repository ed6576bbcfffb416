// Fuzzes every way text enters GoTel and every way it leaves (issue 13
// section 1): arbitrary bytes as a ping URL and query, a ping body, the JSON
// body of every API request, and as the fields of a stored record (what an
// older version may have written), then every output rendered from them: the
// JSON listing, the HTML pages, the metrics, alert texts and log escaping.
// Properties: no crash, no exception, no UB; an accepted name is valid UTF-8;
// every output is valid UTF-8 (JSON output also parses back); every cut is on
// a code point boundary; a printable() log value has no control character.

#include "alerters/render.hpp"
#include "net/api.hpp"
#include "net/embedded.hpp"
#include "net/listing.hpp"
#include "net/manage.hpp"
#include "net/metrics.hpp"
#include "net/pages.hpp"
#include "net/pings.hpp"
#include "net/requests.hpp"
#include "net/ui.hpp"
#include "storage/utf8.hpp"
#include "tests/fuzz/oracle.hpp"

#include <fuzzer/FuzzedDataProvider.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace {

using namespace gotel;

void require(bool ok) {
  if (!ok)
    std::abort();
}

// Outputs are judged by tests/fuzz/oracle.cpp (independent of storage/utf8.cpp,
// which is itself under test below, and not instrumented for coverage).
void utf8_out(std::string_view s) {
  require(fuzz::is_utf8(s));
}

void json_out(const std::string& s) {
  utf8_out(s);
  require(fuzz::is_json(s));
}

void accepted_name(const std::string& s) {
  require(utf8::valid(s));
}

/// The web UI page is the embedded template (21 KB) with the rows spliced in
/// at its marker. Checking all of it was the largest single cost, so the
/// two constant halves are checked once per process and each input checks that
/// the page is exactly those halves around its rows, and that the rows are
/// UTF-8: the same property (a concatenation of UTF-8 texts is UTF-8).
void status_app_out(const std::string& page) {
  static const auto halves = [] {
    constexpr std::string_view marker = "<!--GOTEL_ROWS-->";
    auto at = status_html.find(marker);
    auto head = status_html.substr(0, at);
    auto tail = at == std::string_view::npos ? std::string_view{}
                                              : status_html.substr(at + marker.size());
    require(fuzz::is_utf8(head) && fuzz::is_utf8(tail));
    return std::pair{head, tail};
  }();
  auto [head, tail] = halves;
  require(page.size() >= head.size() + tail.size());
  require(std::string_view{page}.starts_with(head) && std::string_view{page}.ends_with(tail));
  utf8_out(std::string_view{page}.substr(head.size(), page.size() - head.size() - tail.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  auto path = in.ConsumeRandomLengthString(256);
  auto query = in.ConsumeRandomLengthString(128);
  auto limit = in.ConsumeIntegralInRange<std::size_t>(0, 64);
  std::vector<std::string> raw;
  for (int i = 0; i < 6; ++i)
    raw.push_back(in.ConsumeRandomLengthString(96));
  auto body = in.ConsumeRemainingBytesAsString();

  // The helpers themselves.
  for (auto* s : {&path, &body}) {
    auto clean = utf8::sanitize(*s);
    utf8_out(clean);
    require(utf8::valid(*s) == (clean == *s));
    require(utf8::valid(*s) == fuzz::is_utf8(*s));  // the oracle agrees on any bytes
    auto cut = utf8::truncate(clean, limit);
    require(cut.size() <= limit && clean.starts_with(cut));
    utf8_out(cut);
    require(clean.size() <= limit ? cut == clean : cut.size() + 3 >= limit);
    for (unsigned char c : utf8::printable(*s))
      require(c >= 0x20 && c != 0x7f);
  }

  // Pings: the URL, then the body as the node stores it.
  std::string ping_path = "/ping/" + path;
  auto ping = parse_ping(ping_path, query);
  if (auto* r = std::get_if<rejection>(&ping)) {
    utf8_out(utf8::sanitize(r->message));
  } else {
    auto& sig = std::get<signal_request>(ping);
    if (sig.uuid.empty()) {
      accepted_name(sig.app);
      accepted_name(sig.component);
    }
    utf8_out(utf8::clean(body, limit));
  }
  // Management paths: the decoded segment is refused unless UTF-8.
  if (auto seg = percent_decode(path, false))
    (void)utf8::valid(*seg);

  // Every JSON body; accepted strings are UTF-8 (nlohmann validates them).
  field_limits lim;
  std::vector<reservation_record> recs;
  auto reserve = parse_reserve(body, lim);
  if (auto* r = std::get_if<reserve_request>(&reserve)) {
    accepted_name(r->app);
    accepted_name(r->component);
    reservation_record rec;
    rec.app = r->app;
    rec.component = r->component;
    rec.owner = r->owner;
    rec.notify = r->notify;
    rec.alert_msg = r->alert_msg;
    rec.frequency = r->frequency;
    rec.unit = r->unit;
    rec.tags = r->tags;
    rec.alerters = r->alerters;
    recs.push_back(rec);
  } else {
    json_out(json_text(nlohmann::json(std::get<rejection>(reserve).message)));
  }
  for (auto kind : {signal_kind::start, signal_kind::fail}) {
    auto s = parse_signal(body, kind, lim);
    if (auto* r = std::get_if<signal_request>(&s)) {
      accepted_name(r->app);
      accepted_name(r->component);
    } else {
      json_out(json_text(nlohmann::json(std::get<rejection>(s).message)));
    }
  }
  auto checkin = parse_checkin(body, lim);
  if (auto* r = std::get_if<rejection>(&checkin))
    json_out(json_text(nlohmann::json(r->message)));

  // A record as an older version could have stored it: any bytes.
  reservation_record old;
  old.job_id = 3;
  old.app = raw[0];
  old.component = raw[1];
  old.owner = raw[2];
  old.notify = raw[3];
  old.alert_msg = raw[4];
  old.tags = {raw[5]};
  old.alerters = {raw[5]};
  old.frequency = 1;
  old.unit = time_unit::hours;
  old.last_checkin_ms = 1'700'000'000'000;
  old.late_since_ms = 1'700'000'100'000;
  recs.push_back(old);

  unix_ms now = 1'700'000'200'000;
  schedule_policy policy{0, 0, 6 * 3600 * 1000};
  json_out(listing_json(recs, now, policy));
  utf8_out(status_page(recs, now, policy));
  status_app_out(status_app_page(recs, now, policy));
  utf8_out(badguests_page(recs, {}));
  utf8_out(metrics_text(recs, now, policy, server_metrics{}));
  for (auto& rec : recs) {
    utf8_out(render_alert(rec.alert_msg, fields_for(rec, now, raw[5])));
    utf8_out(render_recovery(rec, now, raw[5]));
    nlohmann::ordered_json notes;
    notes["notes"] = body;
    notes["source"] = rec.owner;
    json_out(json_text(notes));
  }
  return 0;
}
