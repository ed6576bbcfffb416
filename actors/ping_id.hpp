#pragma once
/// Ping ids: the stable uuid each reservation carries for Healthchecks-style
/// ping URLs (/ping/<uuid>, docs/pings.md).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gotel {

/// A random (version 4) uuid in canonical lower-case form. Thread-safe.
std::string random_uuid();

/// A name-based (version 5 layout, SHA-1) uuid derived from a reservation key.
/// Given to reservations stored before ping ids existed, so every node and
/// every restart agrees on it without a write. Pure.
std::string key_uuid(std::string_view reservation_key);

/// True for a canonical uuid: 8-4-4-4-12 hex digits (either case). Pure.
bool is_uuid(std::string_view text);

/// `text` lower-cased (uuids are compared in canonical lower-case form).
std::string lower_uuid(std::string_view text);

/// A uuid's 128 bits: how the coordinator indexes ping ids in 16 bytes rather
/// than a 36-character string (docs/scale.md).
struct uuid_bits {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  friend bool operator==(const uuid_bits&, const uuid_bits&) = default;
};

struct uuid_bits_hash {
  std::size_t operator()(const uuid_bits& u) const {
    return static_cast<std::size_t>(u.hi ^ (u.lo * 0x9E3779B97F4A7C15ULL));
  }
};

/// The bits of a canonical uuid (either case); nullopt for anything else. Pure.
std::optional<uuid_bits> pack_uuid(std::string_view text);

}  // namespace gotel
