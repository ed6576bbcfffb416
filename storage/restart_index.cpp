#include "storage/restart_index.hpp"

#include <algorithm>

namespace gotel {

namespace {

// Flag bits (FORMAT.md, "restart index").
enum : std::uint16_t {
  f_checked_in = 1 << 0,
  f_run_due = 1 << 1,
  f_late = 1 << 2,
  f_failed = 1 << 3,
  f_fail_alerted = 1 << 4,
  f_running = 1 << 5,
  f_uuid = 1 << 6,
  f_uuid_from_key = 1 << 7,
  f_cron = 1 << 8,
  f_all = (1 << 9) - 1,
};

/// version, flags, job id, revision, base, period, grace, run due, snooze end, uuid.
constexpr std::size_t fixed_size = 1 + 2 + 7 * 8 + 16;

/// Times and durations beyond +-2^60 ms (36 million years) are refused, so the
/// wake-up arithmetic on a decoded entry (a few of them added) cannot
/// overflow; a record that holds such a value is read instead.
constexpr std::int64_t max_ms = std::int64_t{1} << 60;

bool plausible(std::int64_t ms) { return ms >= -max_ms && ms <= max_ms; }

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// pack_uuid (actors/ping_id.hpp) without the actors library: the bits of a
/// canonical 8-4-4-4-12 uuid in either case; false for anything else.
bool uuid_bits_of(std::string_view text, std::uint64_t& hi, std::uint64_t& lo) {
  if (text.size() != 36)
    return false;
  hi = lo = 0;
  int n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-')
        return false;
      continue;
    }
    auto v = hex_value(text[i]);
    if (v < 0)
      return false;
    auto& half = n < 16 ? hi : lo;
    half = (half << 4) | static_cast<std::uint64_t>(v);
    ++n;
  }
  return true;
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_u64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | p[i];
  return v;
}

}  // namespace

restart_index index_of(const reservation_record& rec) {
  restart_index ix;
  ix.job_id = rec.job_id;
  ix.revision = rec.revision;
  ix.checked_in = rec.last_checkin_ms != 0;
  ix.base_ms = ix.checked_in ? rec.last_checkin_ms : rec.created_ms;
  ix.period_ms = rec.period_ms();
  ix.grace_ms = rec.grace_ms;
  if (rec.max_duration_ms > 0)
    for (auto& run : rec.runs)
      if (!run.alerted) {
        auto due = run.started_ms + rec.max_duration_ms;
        ix.run_due_ms = ix.has_run_due ? std::min(ix.run_due_ms, due) : due;
        ix.has_run_due = true;
      }
  ix.snooze_until_ms = rec.snooze_until_ms;
  ix.late = rec.late_since_ms != 0;
  ix.failed = rec.failed_since_ms != 0;
  ix.fail_alerted = rec.fail_alerted_ms != 0;
  ix.running = !rec.runs.empty();
  if (rec.uuid.empty())
    ix.uuid_from_key = true;
  else
    ix.has_uuid = uuid_bits_of(rec.uuid, ix.uuid_hi, ix.uuid_lo);
  if (!rec.schedule.empty()) {
    ix.schedule = rec.schedule;
    ix.tz = rec.tz;
  }
  return ix;
}

namespace codec {

std::string encode(const restart_index& ix) {
  std::uint16_t flags = (ix.checked_in ? f_checked_in : 0) | (ix.has_run_due ? f_run_due : 0)
                        | (ix.late ? f_late : 0) | (ix.failed ? f_failed : 0)
                        | (ix.fail_alerted ? f_fail_alerted : 0) | (ix.running ? f_running : 0)
                        | (ix.has_uuid ? f_uuid : 0) | (ix.uuid_from_key ? f_uuid_from_key : 0)
                        | (ix.schedule.empty() ? 0 : f_cron);
  std::string out;
  out.reserve(fixed_size + (ix.schedule.empty() ? 0 : 8 + ix.schedule.size() + ix.tz.size()));
  out.push_back(static_cast<char>(index_version));
  out.push_back(static_cast<char>(flags >> 8));
  out.push_back(static_cast<char>(flags & 0xff));
  put_u64(out, ix.job_id);
  put_u64(out, ix.revision);
  put_u64(out, static_cast<std::uint64_t>(ix.base_ms));
  put_u64(out, static_cast<std::uint64_t>(ix.period_ms));
  put_u64(out, static_cast<std::uint64_t>(ix.grace_ms));
  put_u64(out, ix.has_run_due ? static_cast<std::uint64_t>(ix.run_due_ms) : 0);
  put_u64(out, static_cast<std::uint64_t>(ix.snooze_until_ms));
  put_u64(out, ix.has_uuid ? ix.uuid_hi : 0);
  put_u64(out, ix.has_uuid ? ix.uuid_lo : 0);
  if (!ix.schedule.empty()) {
    put_u32(out, static_cast<std::uint32_t>(ix.schedule.size()));
    out.append(ix.schedule);
    put_u32(out, static_cast<std::uint32_t>(ix.tz.size()));
    out.append(ix.tz);
  }
  return out;
}

std::optional<restart_index> decode_index(std::string_view bytes) {
  if (bytes.size() < fixed_size)
    return std::nullopt;
  auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (p[0] != index_version)
    return std::nullopt;
  std::uint16_t flags = static_cast<std::uint16_t>((p[1] << 8) | p[2]);
  if ((flags & ~f_all) != 0 || ((flags & f_uuid) && (flags & f_uuid_from_key)))
    return std::nullopt;
  restart_index ix;
  ix.checked_in = flags & f_checked_in;
  ix.has_run_due = flags & f_run_due;
  ix.late = flags & f_late;
  ix.failed = flags & f_failed;
  ix.fail_alerted = flags & f_fail_alerted;
  ix.running = flags & f_running;
  ix.has_uuid = flags & f_uuid;
  ix.uuid_from_key = flags & f_uuid_from_key;
  const unsigned char* q = p + 3;
  auto next = [&q] {
    auto v = get_u64(q);
    q += 8;
    return v;
  };
  ix.job_id = next();
  ix.revision = next();
  ix.base_ms = static_cast<std::int64_t>(next());
  ix.period_ms = static_cast<std::int64_t>(next());
  ix.grace_ms = static_cast<std::int64_t>(next());
  ix.run_due_ms = static_cast<std::int64_t>(next());
  ix.snooze_until_ms = static_cast<std::int64_t>(next());
  ix.uuid_hi = next();
  ix.uuid_lo = next();
  if (ix.period_ms <= 0 || !plausible(ix.base_ms) || !plausible(ix.period_ms)
      || !plausible(ix.grace_ms) || !plausible(ix.run_due_ms) || !plausible(ix.snooze_until_ms)
      || (!ix.has_run_due && ix.run_due_ms != 0)
      || (!ix.has_uuid && (ix.uuid_hi != 0 || ix.uuid_lo != 0)))
    return std::nullopt;
  auto rest = bytes.substr(fixed_size);
  if (!(flags & f_cron))
    return rest.empty() ? std::optional<restart_index>{ix} : std::nullopt;
  // A length-prefixed string, taken off the front of `rest`.
  auto take = [&rest](std::string_view& out) {
    if (rest.size() < 4)
      return false;
    auto* r = reinterpret_cast<const unsigned char*>(rest.data());
    std::uint64_t n = (std::uint64_t{r[0]} << 24) | (std::uint64_t{r[1]} << 16)
                      | (std::uint64_t{r[2]} << 8) | r[3];
    if (n > rest.size() - 4)
      return false;
    out = rest.substr(4, n);
    rest.remove_prefix(4 + n);
    return true;
  };
  if (!take(ix.schedule) || ix.schedule.empty() || !take(ix.tz) || !rest.empty())
    return std::nullopt;
  return ix;
}

}  // namespace codec

}  // namespace gotel
