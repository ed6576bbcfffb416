#include "tests/fuzz/oracle.hpp"

// A distinct ABI namespace (json_abi_diag_...) keeps this uninstrumented copy of
// nlohmann's parser from standing in, at link time, for the instrumented one the
// code under test uses (same inline functions, same names otherwise).
#define JSON_DIAGNOSTICS 1
#include <nlohmann/json.hpp>

#include <cstdint>

namespace gotel::fuzz {

bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (text.size() - i < len)
      return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

bool is_json(std::string_view text) {
  return nlohmann::json::accept(text);
}

}  // namespace gotel::fuzz
