#include "actors/messages.hpp"

#include "actors/errors.hpp"

namespace gotel {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<reservation_record>("gotel::reservation_record");
  cfg.add_message_type<checkin_entry>("gotel::checkin_entry");
  cfg.add_message_type<alert_intent>("gotel::alert_intent");
  cfg.add_message_type<std::vector<alert_intent>>("std::vector<gotel::alert_intent>");
  cfg.add_message_type<reserve_request>("gotel::reserve_request");
  cfg.add_message_type<checkin_request>("gotel::checkin_request");
  cfg.add_message_type<snooze_request>("gotel::snooze_request");
  cfg.add_message_type<key_request>("gotel::key_request");
  cfg.add_message_type<signal_request>("gotel::signal_request");
  cfg.add_message_type<repl_change>("gotel::repl_change");
  cfg.add_message_type<std::vector<repl_change>>("std::vector<gotel::repl_change>");
  cfg.add_message_type<sync_page>("gotel::sync_page");
  cfg.add_message_type<reconcile_change>("gotel::reconcile_change");
  cfg.add_error_category(caf::atom("gotel"), render_errc);
}

}  // namespace gotel
