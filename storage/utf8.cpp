#include "storage/utf8.hpp"

#include <vector>

namespace gotel::utf8 {

namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

/// Length of the well-formed sequence starting at text[i], or 0 when there is none
/// (Unicode 15, table 3-7).
std::size_t sequence_at(std::string_view text, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  auto n = text.size() - i;
  auto c0 = b(0);
  if (c0 < 0x80)
    return 1;
  auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return k < n && b(k) >= lo && b(k) <= hi;
  };
  if (c0 >= 0xC2 && c0 <= 0xDF)
    return cont(1) ? 2 : 0;
  if (c0 >= 0xE0 && c0 <= 0xEF) {
    unsigned char lo = c0 == 0xE0 ? 0xA0 : 0x80;
    unsigned char hi = c0 == 0xED ? 0x9F : 0xBF;  // no surrogates
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c0 >= 0xF0 && c0 <= 0xF4) {
    unsigned char lo = c0 == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c0 == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

bool valid(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    auto len = sequence_at(text, i);
    if (len == 0)
      return false;
    i += len;
  }
  return true;
}

std::string sanitize(std::string_view text) {
  if (valid(text))
    return std::string{text};
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size();) {
    auto len = sequence_at(text, i);
    if (len == 0) {
      out += replacement;
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::size_t cut(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes)
    return text.size();
  auto at = max_bytes;
  // Back over at most three continuation bytes to the start of their sequence.
  for (int k = 0; k < 3 && at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80; ++k)
    --at;
  if ((static_cast<unsigned char>(text[at]) & 0xC0) == 0x80)
    return max_bytes;  // not UTF-8 here anyway: no boundary to respect
  // text[at] starts a sequence; keep it only if it ends by max_bytes.
  auto len = sequence_at(text, at);
  return (len != 0 && at + len <= max_bytes) ? at + len : at;
}

std::string truncate(std::string_view text, std::size_t max_bytes) {
  return std::string{text.substr(0, cut(text, max_bytes))};
}

std::string clean(std::string_view text, std::size_t max_bytes) {
  return truncate(sanitize(text), max_bytes);
}

namespace {

/// The code point at text[i] (valid UTF-8, sequence length `len`).
char32_t decode(std::string_view text, std::size_t i, std::size_t len) {
  auto b = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(text[i + k])); };
  switch (len) {
    case 1: return b(0);
    case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

bool is_space(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680
         || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F
         || c == 0x205F || c == 0x3000;
}

bool is_invisible(char32_t c) {
  return c == 0xAD || c == 0x34F || c == 0x180E || (c >= 0x200B && c <= 0x200F)
         || (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x206F) || c == 0xFEFF
         || (c >= 0xFE00 && c <= 0xFE0F);
}

}  // namespace

std::string lookalike_problem(std::string_view name) {
  std::vector<char32_t> cps;
  for (std::size_t i = 0; i < name.size();) {
    auto len = sequence_at(name, i);
    if (len == 0)
      return "is not valid UTF-8";
    cps.push_back(decode(name, i, len));
    i += len;
  }
  if (!cps.empty() && is_space(cps.front()))
    return "starts with whitespace";
  auto last = cps.rbegin();
  while (last != cps.rend() && *last == ' ')
    ++last;
  if (last != cps.rend() && is_space(*last))
    return "ends with whitespace";
  for (auto c : cps) {
    if (is_invisible(c))
      return "holds an invisible character (zero-width, soft hyphen, bidi control or BOM)";
    if ((c >= 0xFF01 && c <= 0xFF5E) || c == 0x3000)
      return "holds full-width characters (write them as ASCII)";
  }
  return {};
}

std::string printable(std::string_view text) {
  auto s = sanitize(text);
  std::string out;
  out.reserve(s.size());
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80
               && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      auto c1 = static_cast<unsigned char>(s[++i]);  // C1 control (U+0080-U+009F)
      out += "\\x";
      out.push_back(hex[c1 >> 4]);
      out.push_back(hex[c1 & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace gotel::utf8
