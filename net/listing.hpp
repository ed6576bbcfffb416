#pragma once
/// The JSON shape of one reservation, shared by GET /reservation and the
/// management API (net/manage.cpp), so a field added for one shows in both;
/// and the bodies that list every reservation, made piece by piece from a
/// store snapshot so that no listing holds every row (issue 15 §7).

#include "actors/schedule.hpp"
#include "storage/model.hpp"
#include "storage/store.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>

namespace gotel {

/// One element of GET /reservation's `result`, in GoTel's key order, then the
/// keys this project added (appended, so old parsers keep working).
nlohmann::ordered_json listing_element(const reservation_record& rec, unix_ms now,
                                       const schedule_policy& policy);

/// Makes the next piece of a body into `out`; false once the body is complete.
using body_pieces = std::function<bool(std::string& out)>;

/// Pieces of about this many bytes (one chunk each on the wire).
inline constexpr std::size_t listing_piece_bytes = 64 * 1024;

/// GET /reservation's body from `snap`: byte for byte listing_json (net/api.hpp)
/// of every reservation, newest checkin first (never checked in last), ties in
/// key order, as the original lists them. The first call reads every key and
/// last-checkin time (a compact index, ~50 bytes per reservation), sorts it,
/// and each later call reads the next records of that order from the snapshot.
body_pieces reservation_listing_pieces(std::shared_ptr<storage::reservation_snapshot> snap,
                                       unix_ms now, schedule_policy policy,
                                       std::size_t piece_bytes = listing_piece_bytes);

/// GET /status?plain=1's body from `snap` (the original's bare table, every
/// row in key order), `batch` records per piece; byte for byte status_page.
body_pieces status_table_pieces(std::shared_ptr<storage::reservation_snapshot> snap,
                                unix_ms now, schedule_policy policy, std::size_t batch = 500);

}  // namespace gotel
