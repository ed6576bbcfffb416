// Fuzzes alerters/render.*: render_alert with an arbitrary template and
// arbitrary field values (including extreme times and counts), plus the
// relative-time and RFC 1123 helpers it uses.
// Properties: no crash, no UB; the output is UTF-8; a template without '{'
// renders to itself (with U+FFFD for each byte that is not UTF-8).

#include "alerters/render.hpp"
#include "storage/utf8.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  gotel::alert_fields f;
  f.job_id = in.ConsumeIntegral<std::uint64_t>();
  f.app = in.ConsumeRandomLengthString(64);
  f.component = in.ConsumeRandomLengthString(64);
  f.owner = in.ConsumeRandomLengthString(64);
  f.notify = in.ConsumeRandomLengthString(64);
  f.frequency = in.ConsumeRandomLengthString(16);
  f.last_ms = in.ConsumeIntegral<std::int64_t>();
  f.now_ms = in.ConsumeIntegral<std::int64_t>();
  f.checkins = in.ConsumeIntegral<std::uint64_t>();
  f.srv = in.ConsumeRandomLengthString(32);
  auto tmpl = in.ConsumeRemainingBytesAsString();

  auto out = gotel::render_alert(tmpl, f);
  if (!tmpl.empty() && tmpl.find('{') == std::string::npos && out != gotel::utf8::sanitize(tmpl))
    std::abort();
  if (!gotel::utf8::valid(out))
    std::abort();  // every channel gets UTF-8
  (void)gotel::humanize_since(static_cast<std::int64_t>(f.job_id));
  (void)gotel::rfc1123(f.last_ms);

  gotel::reservation_record rec;
  rec.app = f.app;
  rec.component = f.component;
  rec.owner = f.owner;
  rec.frequency = static_cast<std::int64_t>(f.checkins % 1000) + 1;
  rec.last_checkin_ms = f.last_ms;
  rec.late_since_ms = static_cast<std::int64_t>(f.job_id);
  rec.alert_msg = tmpl;
  (void)gotel::render_recovery(rec, f.now_ms, f.srv);
  (void)gotel::render_alert(rec.alert_msg, gotel::fields_for(rec, f.now_ms, f.srv));
  return 0;
}
