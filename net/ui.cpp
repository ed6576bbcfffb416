#include "net/ui.hpp"

#include "net/embedded.hpp"
#include "net/pages.hpp"

#include <openssl/evp.h>

#include <array>

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

namespace {

/// 'sha256-<base64>' of the text between the page's <script> and </script>.
std::string inline_script_source() {
  constexpr std::string_view open = "<script>", close = "</script>";
  auto from = status_html.find(open);
  auto to = from == std::string_view::npos ? from : status_html.find(close, from);
  if (to == std::string_view::npos)
    return {};
  auto script = status_html.substr(from + open.size(), to - from - open.size());
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(script.data(), script.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1)
    return {};
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> b64{};
  int n = EVP_EncodeBlock(b64.data(), digest.data(), static_cast<int>(len));
  return " 'sha256-" + std::string(reinterpret_cast<const char*>(b64.data()), n) + "'";
}

}  // namespace

const std::string& html_content_security_policy() {
  // Inline style="..." attributes in the page need 'unsafe-inline' for styles;
  // styles cannot run code. Scripts: only the page's own, by hash.
  static const std::string policy = "default-src 'self'; script-src 'self'"
                                    + inline_script_source()
                                    + "; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                      "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
  return policy;
}

}  // namespace gotel
