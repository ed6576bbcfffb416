#pragma once
/// The web UI at GET /status: one self-contained page (net/ui/status.html,
/// compiled in) that keeps the original's table, columns and links, and
/// updates itself from the management API.

#include "actors/schedule.hpp"
#include "storage/model.hpp"

#include <string>
#include <vector>

namespace gotel {

/// The page with the original's rows rendered in (readable without scripts,
/// and by the tests that read /status as text).
std::string status_app_page(const std::vector<reservation_record>& recs, unix_ms now,
                            const schedule_policy& policy);

/// The Content-Security-Policy sent with every HTML page (issue 14 §7): only
/// this origin's resources, never framed; the page's one inline script is
/// allowed by its SHA-256 (computed from the compiled-in page), no other.
const std::string& html_content_security_policy();

}  // namespace gotel
