#pragma once
/// Counts of reservations per state (ok, late, paused; failed, running), kept
/// as states change instead of found by a scan (issue 15 §7). /api/v1/status,
/// /metrics and the listings' `total` read them in O(1).
///
/// The whole rule is here, in two pure pieces; the coordinator keeps each
/// reservation's count_entry in its registry entry (so a passivated
/// reservation stays counted) and moves the counters when its actor reports a
/// change (actors/coordinator.hpp):
///  - state_of(): the state a listing shows (ok / late / paused) at a time;
///  - count_entry_of() + state_counters::adjust(before, after): what the
///    counters need of a record, and how a change moves them.
///
/// Time-based changes. A reservation becomes late when its actor marks it
/// (late_since_ms, persisted, within milliseconds of the deadline on the
/// coordinator; a replica gets the marked record by replication), so lateness
/// is counted by the change that records it. A snooze ends by time alone, with
/// no change to the record: the counters keep every counted snooze end and, on
/// each read or change at wall time `now`, release those that have ended
/// ("correct on read"), so an ended snooze is counted as ok or late at once,
/// on every node, without waking anything. Between a deadline and its actor
/// marking it late (a few ms, or while this node may not alert), the listing's
/// `status` already says late and the counters still say ok.
///
/// Thread-safety: state_counters may be used from any thread. A change that
/// moves no count (most checkins) takes no lock.

#include "actors/schedule.hpp"
#include "storage/model.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

namespace gotel {

/// The state a listing shows: paused while snoozed (even when late), late while
/// failing (a missed deadline or an unresolved failure), else ok.
enum class job_state : std::uint8_t { ok, late, paused };

std::string_view to_string(job_state s);

/// The state of `rec` at wall time `now` (listings' `status`, ?status= filters).
job_state state_of(const reservation_record& rec, unix_ms now, const schedule_policy& policy);

/// What the counters need of one reservation: the fields that decide its state
/// and that only a change to the record moves (plus the snooze end, which time
/// moves too).
struct count_entry {
  bool flagged = false;  ///< marked late (late_since_ms) or failed (failed_since_ms)
  bool failed = false;   ///< a reported failure not yet resolved (failed_since_ms)
  bool running = false;  ///< has at least one open run
  unix_ms snooze_until_ms = 0;

  friend bool operator==(const count_entry&, const count_entry&) = default;
};

count_entry count_entry_of(const reservation_record& rec);
/// The same from the record's restart index entry (a restart reads only these).
count_entry count_entry_of(const restart_index& ix);

/// The counts at one time. ok + late + paused == total.
struct state_totals {
  std::uint64_t total = 0;
  std::uint64_t ok = 0;
  std::uint64_t late = 0;    ///< flagged and not paused
  std::uint64_t paused = 0;  ///< snoozed (paused) now, late or not
  std::uint64_t failed = 0;  ///< unresolved failures, paused or not
  std::uint64_t running = 0; ///< with an open run, whatever their state

  /// How many are in `s`.
  std::uint64_t of(job_state s) const {
    return s == job_state::ok ? ok : s == job_state::late ? late : paused;
  }
};

class state_counters {
 public:
  /// Moves the counts from `before` to `after` (nullopt = the reservation is
  /// not there: created, removed). `now` (wall ms) releases ended snoozes
  /// first; 0 releases none.
  void adjust(const std::optional<count_entry>& before, const std::optional<count_entry>& after,
              unix_ms now);
  /// The counts at wall time `now`.
  state_totals read(unix_ms now);

 private:
  void release_ended(unix_ms now);  ///< mtx_ held
  void add(const count_entry& e, int sign);  ///< mtx_ held

  std::mutex mtx_;
  std::uint64_t total_ = 0;
  std::uint64_t flagged_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t running_ = 0;
  /// Counted snoozes that had not ended at the last release: end -> (count,
  /// flagged among them). Holds exactly the counted entries whose
  /// snooze_until_ms > released_upto_.
  std::map<unix_ms, std::pair<std::uint64_t, std::uint64_t>> snoozes_;
  std::uint64_t snoozed_ = 0;
  std::uint64_t snoozed_flagged_ = 0;
  unix_ms released_upto_ = 0;  ///< never goes back, even if the wall clock does
};


}  // namespace gotel
