#pragma once
/// GoTel's error codes as caf::error values (category "gotel"). Errors cross
/// actor boundaries as values, never as exceptions; net/ maps them to HTTP once.

#include <caf/all.hpp>

#include <cstdint>
#include <string>

namespace gotel {

enum class errc : std::uint8_t {
  none = 0,
  not_found,         ///< no reservation with that (app, component)
  conflict,          ///< the reservation is being checked out; retry
  storage_failure,   ///< the write did not reach the disk
  invalid_argument,  ///< a request the actor layer refuses
  unavailable,       ///< shutting down, or the actor did not answer in time
  no_coordinator,    ///< cluster: no coordinator is reachable from this node
  limit_reached,     ///< a new reservation beyond server.max_reservations_per_app
  internal,          ///< a bug: a handler threw; answered 500 and logged
};

caf::error make_error(errc code);
caf::error make_error(errc code, std::string message);

/// The gotel error code inside `err`, or errc::unavailable for CAF's own errors
/// (timeouts, dead actors).
errc code_of(const caf::error& err);

/// The human-readable context of `err` (what make_error was given), or CAF's text.
std::string message_of(const caf::error& err);

/// Renders gotel errors in logs; registered in register_message_types().
std::string render_errc(std::uint8_t code, caf::atom_value, const caf::message& ctx);

}  // namespace gotel
