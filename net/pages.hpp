#pragma once
/// The original's HTML pages: /status, /badguests, /nodes. Pure functions of
/// the stored reservations and the time; every value is HTML-escaped.

#include "actors/context.hpp"
#include "actors/schedule.hpp"
#include "cluster-config/config.hpp"
#include "storage/model.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gotel {

std::string html_escape(std::string_view text);

/// The original's /status table without scripts (GET /status?plain=1).
std::string status_page(const std::vector<reservation_record>& recs, unix_ms now,
                        const schedule_policy& policy);
/// What status_page puts before and after its rows (GET /status?plain=1 is
/// streamed: head, rows in pieces, tail; net/listing.hpp).
std::string status_page_head();
std::string status_page_tail();
/// The <tr> rows of the /status table (the original's ten columns), one per
/// reservation; shared by status_page and the web UI (net/ui.hpp).
std::string status_rows(const std::vector<reservation_record>& recs, unix_ms now,
                        const schedule_policy& policy);
/// Alert log entries /badguests reads (newest first) for each job's last alert.
inline constexpr std::size_t badguests_log_entries = 10000;

/// Alert count per app/component (from the records), with the last alert's
/// time, channel and outcome from `log` (newest first) where it has one.
std::string badguests_page(const std::vector<reservation_record>& recs,
                           const std::vector<alert_log_entry>& log = {});
std::string nodes_page(const node_context::cluster_view& view, const std::string& self_id);

}  // namespace gotel
