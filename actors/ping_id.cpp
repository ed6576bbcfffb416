#include "actors/ping_id.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <random>

namespace gotel {

namespace {

std::string format(std::array<unsigned char, 16> b) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out.push_back('-');
    out.push_back(hex[b[i] >> 4]);
    out.push_back(hex[b[i] & 0xf]);
  }
  return out;
}

}  // namespace

std::string random_uuid() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    // OpenSSL's generator failed (no entropy source): fall back to the
    // platform's; uniqueness, not secrecy, is what a ping id needs.
    std::random_device rd;
    for (auto& x : b)
      x = static_cast<unsigned char>(rd());
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return format(b);
}

std::string key_uuid(std::string_view reservation_key) {
  // A fixed namespace prefix keeps these apart from other name-based ids.
  std::string input = "gotel/reservation/";
  input.append(reservation_key);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  std::array<unsigned char, 16> b{};
  for (std::size_t i = 0; i < b.size(); ++i)
    b[i] = digest[i];
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x50);  // version 5
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  return format(b);
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36)
    return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-')
        return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<uuid_bits> pack_uuid(std::string_view text) {
  if (!is_uuid(text))
    return std::nullopt;
  uuid_bits out;
  int n = 0;
  for (char c : text) {
    if (c == '-')
      continue;
    auto u = static_cast<unsigned char>(c);
    std::uint64_t v = std::isdigit(u) ? u - '0' : (std::tolower(u) - 'a' + 10);
    auto& half = n < 16 ? out.hi : out.lo;
    half = (half << 4) | v;
    ++n;
  }
  return out;
}

std::string lower_uuid(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text)
    out.push_back(static_cast<char>(std::tolower(c)));
  return out;
}

}  // namespace gotel
