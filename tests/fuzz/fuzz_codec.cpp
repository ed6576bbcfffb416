// Fuzzes storage/codec.*: every value decoder on arbitrary bytes, and for every
// value one decodes, the round trip encode -> decode -> encode must be stable
// (same bytes) so a value rewritten by a restart never drifts. The restart
// index entry (storage/restart_index.hpp) too.

#include "storage/codec.hpp"
#include "storage/restart_index.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

template <class Decode>
void round_trip(std::string_view bytes, Decode decode) {
  auto value = decode(bytes);
  if (!value)
    return;
  auto once = gotel::codec::encode(*value);
  auto again = decode(once);
  if (!again)
    std::abort();  // we wrote something we cannot read back
  if (gotel::codec::encode(*again) != once)
    std::abort();  // not stable
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  // Most inputs would fail the version check; also try each with it in front,
  // so the fuzzer spends its time inside the MessagePack reader.
  std::string versioned = std::string(1, static_cast<char>(gotel::codec::value_version)) + bytes;
  for (std::string_view b : {std::string_view{bytes}, std::string_view{versioned}}) {
    round_trip(b, gotel::codec::decode_reservation);
    round_trip(b, gotel::codec::decode_checkin);
    round_trip(b, gotel::codec::decode_intent);
    round_trip(b, gotel::codec::decode_alert_log);
    round_trip(b, gotel::codec::decode_unconfirmed);
    round_trip(b, gotel::codec::decode_index);
  }
  return 0;
}
