#pragma once
/// The restart index (issue 15 §5; FORMAT.md, `i/`): per reservation, the few
/// fields a restart needs to register it as a dormant entry (its ping uuid, when
/// it next needs its actor, its share of the per-state counters, its job id)
/// in about 80 fixed-width bytes, so a restart reads these instead of decoding
/// every whole record. store's write_batch writes an entry with every record
/// and deletes it with it, in the same batch; nothing else writes one.
///
/// The entry holds the *inputs* of the wake-up time, not the time: that also
/// depends on the policy (alerts.grace_seconds, initial_bake_seconds), which a
/// restart may change, and on a cron schedule read in a time zone. Everything
/// here is pure; decoding never throws and refuses bad bytes (it is fuzzed).

#include "storage/model.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gotel {

struct restart_index {
  std::uint64_t job_id = 0;
  std::uint64_t revision = 0;
  /// last_checkin_ms, or created_ms when the reservation never checked in
  /// (then the policy's bake is added to it, as deadline_ms does).
  unix_ms base_ms = 0;
  bool checked_in = false;
  std::int64_t period_ms = 0;     ///< frequency x unit, > 0
  std::int64_t grace_ms = 0;      ///< the record's own grace
  /// The earliest started_ms + max_duration_ms of an open run not yet alerted
  /// as running too long; only when has_run_due.
  unix_ms run_due_ms = 0;
  bool has_run_due = false;
  unix_ms snooze_until_ms = 0;
  bool late = false;          ///< late_since_ms != 0
  bool failed = false;        ///< failed_since_ms != 0
  bool fail_alerted = false;  ///< fail_alerted_ms != 0
  bool running = false;       ///< at least one open run
  /// The ping uuid's 128 bits (as pack_uuid in actors/ping_id.hpp reads them),
  /// when the record holds a canonical uuid.
  bool has_uuid = false;
  std::uint64_t uuid_hi = 0;
  std::uint64_t uuid_lo = 0;
  /// The record holds no uuid: its ping id is derived from the key (key_uuid).
  bool uuid_from_key = false;
  /// The cron schedule and its zone (empty schedule = frequency x unit). In a
  /// decoded entry these view the decoded bytes and live only as long.
  std::string_view schedule;
  std::string_view tz;

  friend bool operator==(const restart_index&, const restart_index&) = default;
};

/// The entry of `rec`; its schedule and tz view `rec`'s strings.
restart_index index_of(const reservation_record& rec);

namespace codec {

/// Version byte of an index entry (independent of value_version).
inline constexpr unsigned char index_version = 1;

std::string encode(const restart_index& ix);

/// nullopt for bytes that are not an entry of index_version: wrong size or
/// version, unknown flags, lengths that do not match, a period <= 0, a time
/// or duration beyond +-2^60 ms (the restore then reads the record).
/// The result's schedule and tz view `bytes`.
std::optional<restart_index> decode_index(std::string_view bytes);

}  // namespace codec

}  // namespace gotel
