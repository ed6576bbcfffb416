// Fuzzes net/requests.*: arbitrary bytes as the body of every API request.
// Properties: no crash, no exception, no UB; a rejection is 400 or 413 with a
// message; an accepted request respects the limits and its strings can be
// written back as JSON (the listing and messages do so).

#include "net/requests.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using namespace gotel;

void require(bool ok) {
  if (!ok)
    std::abort();
}

void check_text(const std::string& s, std::size_t limit) {
  require(s.size() <= limit);
  // dump() throws on invalid UTF-8; accepted text must never make it throw.
  (void)nlohmann::json(s).dump();
}

template <class T, class Check>
void run(const parse_result<T>& r, Check check) {
  if (auto* rej = std::get_if<rejection>(&r)) {
    require(rej->status == 400 || rej->status == 413);
    require(!rej->message.empty());
    (void)nlohmann::json(rej->message).dump();
    return;
  }
  check(std::get<T>(r));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body{reinterpret_cast<const char*>(data), size};
  for (auto lim : {field_limits{}, field_limits{4, 8}}) {
    auto name_ok = [&](const std::string& s) {
      check_text(s, lim.max_field_bytes);
      require(s.find_first_not_of(' ') != std::string::npos);
    };
    run(parse_reserve(body, lim), [&](const reserve_request& r) {
      name_ok(r.app);
      name_ok(r.component);
      check_text(r.owner, lim.max_field_bytes);
      check_text(r.notify, lim.max_notes_bytes);
      check_text(r.alert_msg, lim.max_notes_bytes);
      require(r.frequency >= 1 && r.frequency * unit_ms(r.unit) <= max_period_ms);
    });
    run(parse_checkin(body, lim), [&](const checkin_request& r) {
      name_ok(r.app);
      name_ok(r.component);
      check_text(r.notes, lim.max_notes_bytes);
    });
    run(parse_snooze(body, lim), [&](const snooze_request& r) {
      name_ok(r.app);
      name_ok(r.component);
      require(r.duration_ms >= 1000 && r.duration_ms <= max_period_ms);
    });
    run(parse_key(body, lim), [&](const key_request& r) {
      name_ok(r.app);
      name_ok(r.component);
    });
  }
  return 0;
}
