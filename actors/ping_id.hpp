#pragma once
/// Ping ids: the stable uuid each reservation carries for Healthchecks-style
/// ping URLs (/ping/<uuid>, docs/pings.md).

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

}  // namespace gotel
