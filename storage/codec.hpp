#pragma once
/// Value encoding: one version byte followed by a MessagePack map (FORMAT.md).
/// Decoders never throw and never trust their input: they are fuzzed.

#include "storage/model.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace gotel::codec {

/// Current value format version; written as the first byte of every value.
inline constexpr unsigned char value_version = 1;

std::string encode(const reservation_record& rec);
std::string encode(const checkin_entry& entry);
std::string encode(const alert_intent& intent);
std::string encode(const alert_log_entry& entry);
std::string encode(const unconfirmed_write& w);

/// nullopt when the bytes are not a value this version understands.
std::optional<reservation_record> decode_reservation(std::string_view bytes);
std::optional<checkin_entry> decode_checkin(std::string_view bytes);
std::optional<alert_intent> decode_intent(std::string_view bytes);
std::optional<alert_log_entry> decode_alert_log(std::string_view bytes);
std::optional<unconfirmed_write> decode_unconfirmed(std::string_view bytes);

}  // namespace gotel::codec
