#include "net/ui.hpp"

#include "net/embedded.hpp"
#include "net/pages.hpp"

namespace gotel {

std::string status_app_page(const std::vector<reservation_record>& recs, unix_ms now,
                            const schedule_policy& policy) {
  constexpr std::string_view marker = "<!--GOTEL_ROWS-->";
  auto at = status_html.find(marker);
  std::string out;
  out.reserve(status_html.size() + recs.size() * 200);
  out += status_html.substr(0, at);
  out += status_rows(recs, now, policy);
  if (at != std::string_view::npos)
    out += status_html.substr(at + marker.size());
  return out;
}

}  // namespace gotel
