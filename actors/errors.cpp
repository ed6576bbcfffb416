#include "actors/errors.hpp"

namespace gotel {

namespace {

constexpr caf::atom_value category = caf::atom("gotel");

const char* name_of(errc code) {
  switch (code) {
    case errc::none: return "none";
    case errc::not_found: return "not_found";
    case errc::conflict: return "conflict";
    case errc::storage_failure: return "storage_failure";
    case errc::invalid_argument: return "invalid_argument";
    case errc::unavailable: return "unavailable";
    case errc::no_coordinator: return "no_coordinator";
    case errc::limit_reached: return "limit_reached";
    case errc::internal: return "internal";
  }
  return "unknown";
}

}  // namespace

caf::error make_error(errc code) {
  return caf::error{static_cast<std::uint8_t>(code), category};
}

caf::error make_error(errc code, std::string message) {
  return caf::error{static_cast<std::uint8_t>(code), category,
                    caf::make_message(std::move(message))};
}

errc code_of(const caf::error& err) {
  if (!err)
    return errc::none;
  if (err.category() != category)
    return errc::unavailable;
  return static_cast<errc>(err.code());
}

std::string message_of(const caf::error& err) {
  if (err.category() == category && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  if (err.category() == category)
    return name_of(static_cast<errc>(err.code()));
  return caf::to_string(err);
}

std::string render_errc(std::uint8_t code, caf::atom_value, const caf::message& ctx) {
  std::string out = name_of(static_cast<errc>(code));
  if (ctx.match_elements<std::string>())
    out += ": " + ctx.get_as<std::string>(0);
  return out;
}

}  // namespace gotel
