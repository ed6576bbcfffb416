#pragma once
/// The JSON shape of one reservation, shared by GET /reservation and the
/// management API (net/manage.cpp), so a field added for one shows in both.

#include "actors/schedule.hpp"
#include "storage/model.hpp"

#include <nlohmann/json.hpp>

namespace gotel {

/// One element of GET /reservation's `result`, in GoTel's key order, then the
/// keys this project added (appended, so old parsers keep working).
nlohmann::ordered_json listing_element(const reservation_record& rec, unix_ms now,
                                       const schedule_policy& policy);

}  // namespace gotel
