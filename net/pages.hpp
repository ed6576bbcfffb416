#pragma once
/// The original's HTML pages: /status, /badguests, /nodes. Pure functions of
/// the stored reservations and the time; every value is HTML-escaped.

#include "actors/schedule.hpp"
#include "cluster-config/config.hpp"
#include "storage/model.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gotel {

std::string html_escape(std::string_view text);

std::string status_page(const std::vector<reservation_record>& recs, unix_ms now,
                        const schedule_policy& policy);
std::string badguests_page(const std::vector<reservation_record>& recs);
std::string nodes_page(const config& cfg);

}  // namespace gotel
