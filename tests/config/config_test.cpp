// Tests cluster-config/config.*: defaults, the four sources and their order,
// unknown keys, types, validation, and the printed TOML.

#include "cluster-config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "cluster-config/defaults.hpp"

namespace gotel {
namespace {

using ::testing::HasSubstr;

// config has no operator== of its own; compare every field.
auto fields(const config& c) {
  const auto& s = c.server;
  const auto& a = c.alerts;
  return std::tie(s.listen, s.data_dir, s.advertise_address, s.node_id, s.io_threads,
                  s.scheduler_threads, s.max_body_bytes, s.max_field_bytes, s.max_notes_bytes,
                  s.request_timeout_ms, s.history_per_reservation, s.sync_writes, s.port_file,
                  a.hours_between_alerts, a.initial_bake_seconds, a.grace_seconds, a.log_alerter,
                  a.webhook_url, a.webhook_timeout_ms, a.retry_initial_ms, a.retry_max_ms,
                  a.expire_hours, c.log.level);
}
bool same(const config& a, const config& b) { return fields(a) == fields(b); }

/// A TOML file under /tmp that lives as long as the object.
class temp_file {
 public:
  explicit temp_file(const std::string& text) {
    static int counter = 0;
    path_ = "/tmp/gotel-config-test-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter++) + ".toml";
    std::ofstream(path_) << text;
  }
  ~temp_file() { std::filesystem::remove(path_); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// (Plain assignments, not designated initializers: GCC 12 warns about the
// members a designated initializer leaves out.)
config_result load_path(const std::string& path) {
  config_sources sources;
  sources.file = path;
  return load_config(sources);
}

config_result load_file(const std::string& text) {
  temp_file f(text);
  return load_path(f.path());
}

config_result load_env(std::map<std::string, std::string> env) {
  config_sources sources;
  sources.env = std::move(env);
  return load_config(sources);
}

config_result load_sets(std::vector<std::pair<std::string, std::string>> overrides) {
  config_sources sources;
  sources.overrides = std::move(overrides);
  return load_config(sources);
}

config_result load_set(const std::string& name, const std::string& value) {
  return load_sets({{name, value}});
}

/// The error of a load that must fail.
std::string error_of(const config_result& r) {
  EXPECT_FALSE(r.value.has_value());
  return r.error;
}

// --- defaults ---------------------------------------------------------------

TEST(config_defaults, match_defaults_hpp) {
  const config c = default_config();
  EXPECT_EQ(c.server.listen, defaults::listen);
  EXPECT_EQ(c.server.data_dir, defaults::data_dir);
  EXPECT_EQ(c.server.advertise_address, "");
  EXPECT_EQ(c.server.node_id, defaults::node_id);
  EXPECT_EQ(c.server.io_threads, defaults::io_threads);
  EXPECT_EQ(c.server.scheduler_threads, defaults::scheduler_threads);
  EXPECT_EQ(c.server.max_body_bytes, defaults::max_body_bytes);
  EXPECT_EQ(c.server.max_field_bytes, defaults::max_field_bytes);
  EXPECT_EQ(c.server.max_notes_bytes, defaults::max_notes_bytes);
  EXPECT_EQ(c.server.request_timeout_ms, defaults::request_timeout_ms);
  EXPECT_EQ(c.server.history_per_reservation, defaults::history_per_reservation);
  EXPECT_EQ(c.server.sync_writes, defaults::sync_writes);
  EXPECT_EQ(c.server.port_file, "");
  EXPECT_EQ(c.server.tls_cert, "");  // plain HTTP until both paths are set
  EXPECT_EQ(c.server.tls_key, "");
  EXPECT_EQ(c.server.tls_min_version, defaults::tls_min_version);
  EXPECT_EQ(c.alerts.hours_between_alerts, defaults::hours_between_alerts);
  EXPECT_EQ(c.alerts.initial_bake_seconds, defaults::initial_bake_seconds);
  EXPECT_EQ(c.alerts.grace_seconds, defaults::grace_seconds);
  EXPECT_EQ(c.alerts.log_alerter, defaults::log_alerter);
  EXPECT_EQ(c.alerts.webhook_url, "");
  EXPECT_EQ(c.alerts.webhook_timeout_ms, defaults::webhook_timeout_ms);
  EXPECT_EQ(c.alerts.retry_initial_ms, defaults::retry_initial_ms);
  EXPECT_EQ(c.alerts.retry_max_ms, defaults::retry_max_ms);
  EXPECT_EQ(c.alerts.expire_hours, defaults::expire_hours);
  EXPECT_EQ(c.log.level, defaults::log_level);
}

TEST(config_defaults, are_valid_and_load_with_no_sources) {
  EXPECT_EQ(validate(default_config()), "");
  const auto r = load_config({});
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_TRUE(same(*r.value, default_config()));
}

TEST(config_names, every_setting_is_listed_once_with_a_unique_env_name) {
  const auto names = setting_names();
  EXPECT_GE(names.size(), 23u);
  std::set<std::string> unique_names(names.begin(), names.end());
  std::set<std::string> env_names;
  for (const auto& n : names) env_names.insert(env_name(n));
  EXPECT_EQ(unique_names.size(), names.size());
  EXPECT_EQ(env_names.size(), names.size());
}

TEST(config_names, env_name_uppercases_and_replaces_dots_and_dashes) {
  EXPECT_EQ(env_name("server.listen"), "GOTEL_SERVER_LISTEN");
  EXPECT_EQ(env_name("alerts.hours_between_alerts"), "GOTEL_ALERTS_HOURS_BETWEEN_ALERTS");
  EXPECT_EQ(env_name("a.b-c"), "GOTEL_A_B_C");
}

// --- precedence ---------------------------------------------------------------

TEST(config_sources, file_overrides_default) {
  const auto r = load_file("[server]\nnode_id = \"from-file\"\nio_threads = 3\n");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->server.node_id, "from-file");
  EXPECT_EQ(r.value->server.io_threads, 3);
  EXPECT_EQ(r.value->server.listen, defaults::listen);  // untouched keys keep defaults
}

TEST(config_sources, env_overrides_file_and_flag_overrides_env) {
  temp_file f("[server]\nnode_id = \"from-file\"\n[log]\nlevel = \"debug\"\n");
  config_sources sources;
  sources.file = f.path();
  sources.env = {{"GOTEL_SERVER_NODE_ID", "from-env"}, {"GOTEL_LOG_LEVEL", "warn"}};
  auto r = load_config(sources);
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->server.node_id, "from-env");
  EXPECT_EQ(r.value->log.level, "warn");

  sources.overrides = {{"server.node_id", "from-flag"}};
  r = load_config(sources);
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->server.node_id, "from-flag");
  EXPECT_EQ(r.value->log.level, "warn");
}

TEST(config_sources, later_overrides_win) {
  const auto r = load_sets({{"log.level", "debug"}, {"log.level", "error"}});
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->log.level, "error");
}

TEST(config_sources, fixed_env_names) {
  const auto r = load_env({{"GOTEL_LISTEN", "0.0.0.0:9000"},
                           {"GOTEL_DATA_DIR", "/var/lib/gotel"},
                           {"GOTEL_WEBHOOK_URL", "https://hooks.example/x"},
                           {"GOTEL_CONFIG", "/does/not/matter"}});  // the caller's business
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->server.listen, "0.0.0.0:9000");
  EXPECT_EQ(r.value->server.data_dir, "/var/lib/gotel");
  EXPECT_EQ(r.value->alerts.webhook_url, "https://hooks.example/x");
}

TEST(config_sources, generic_env_names_for_each_type) {
  const auto r = load_env({{"GOTEL_SERVER_IO_THREADS", "4"},
                           {"GOTEL_SERVER_SYNC_WRITES", "off"},
                           {"GOTEL_ALERTS_HOURS_BETWEEN_ALERTS", "0.5"},
                           {"GOTEL_SERVER_PORT_FILE", "/tmp/port"},
                           {"PATH", "/usr/bin"},     // not ours
                           {"GOTELX", "ignored"}});  // not GOTEL_
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->server.io_threads, 4);
  EXPECT_FALSE(r.value->server.sync_writes);
  EXPECT_EQ(r.value->alerts.hours_between_alerts, 0.5);
  EXPECT_EQ(r.value->server.port_file, "/tmp/port");
}

TEST(config_sources, alias_and_generic_env_name_may_agree_but_not_conflict) {
  EXPECT_TRUE(
      load_env({{"GOTEL_LISTEN", "1.2.3.4:5"}, {"GOTEL_SERVER_LISTEN", "1.2.3.4:5"}}).value);
  EXPECT_THAT(
      error_of(load_env({{"GOTEL_LISTEN", "1.2.3.4:5"}, {"GOTEL_SERVER_LISTEN", "1.2.3.4:6"}})),
      HasSubstr("server.listen"));
}

// --- unknown names --------------------------------------------------------------

TEST(config_unknown, key_in_file_names_file_line_and_key) {
  temp_file f("[server]\nnode_id = \"x\"\nlisen = \"1.2.3.4:5\"\n");
  const auto e = error_of(load_path(f.path()));
  EXPECT_THAT(e, HasSubstr(f.path() + ":3:"));
  EXPECT_THAT(e, HasSubstr("unknown setting \"server.lisen\""));
  EXPECT_THAT(e, HasSubstr("did you mean \"server.listen\""));
}

TEST(config_unknown, section_in_file) {
  temp_file f("[sever]\nlisten = \"1.2.3.4:5\"\n");
  const auto e = error_of(load_path(f.path()));
  EXPECT_THAT(e, HasSubstr(f.path()));
  EXPECT_THAT(e, HasSubstr("unknown section [sever]"));
  EXPECT_THAT(e, HasSubstr("did you mean \"server\""));
}

TEST(config_unknown, top_level_key_and_subtable_in_file) {
  EXPECT_THAT(error_of(load_file("listen = \"1.2.3.4:5\"\n")),
              HasSubstr("unknown setting \"listen\" (did you mean \"server.listen\"?)"));
  EXPECT_THAT(error_of(load_file("[server.tls]\ncert = \"x\"\n")),
              HasSubstr("unknown setting \"server.tls\""));
  EXPECT_THAT(error_of(load_file("[[server]]\nlisten = \"1.2.3.4:5\"\n")),
              HasSubstr("server must be a table"));
}

TEST(config_unknown, env_variable) {
  const auto e = error_of(load_env({{"GOTEL_SERVER_LISEN", "1.2.3.4:5"}}));
  EXPECT_THAT(e, HasSubstr("GOTEL_SERVER_LISEN"));
  EXPECT_THAT(e, HasSubstr("did you mean \"GOTEL_SERVER_LISTEN\""));
}

TEST(config_unknown, override) {
  const auto e = error_of(load_set("server.lisen", "1.2.3.4:5"));
  EXPECT_THAT(e, HasSubstr("unknown setting \"server.lisen\""));
  config c = default_config();
  EXPECT_THAT(apply_setting(c, "nope", "1"), HasSubstr("unknown setting \"nope\""));
}

TEST(config_unknown, missing_file_is_an_error_naming_it) {
  EXPECT_THAT(error_of(load_path("/tmp/gotel-no-such-config.toml")),
              HasSubstr("/tmp/gotel-no-such-config.toml"));
}

// --- types ------------------------------------------------------------------------

TEST(config_types, integers_are_parsed_strictly) {
  config c = default_config();
  EXPECT_EQ(apply_setting(c, "server.io_threads", "12"), "");
  EXPECT_EQ(c.server.io_threads, 12);
  EXPECT_EQ(apply_setting(c, "server.io_threads", "-3"), "");
  EXPECT_EQ(c.server.io_threads, -3);
  EXPECT_EQ(apply_setting(c, "server.io_threads", "abc"),
            "server.io_threads: expected an integer, got \"abc\"");
  EXPECT_THAT(apply_setting(c, "server.io_threads", "12x"), HasSubstr("expected an integer"));
  EXPECT_THAT(apply_setting(c, "server.io_threads", ""), HasSubstr("expected an integer"));
  EXPECT_THAT(apply_setting(c, "server.io_threads", " 1"), HasSubstr("expected an integer"));
  EXPECT_THAT(apply_setting(c, "server.io_threads", "1.5"), HasSubstr("expected an integer"));
  EXPECT_THAT(apply_setting(c, "server.io_threads", "99999999999999999999"),
              HasSubstr("out of range"));
  EXPECT_EQ(c.server.io_threads, -3);  // failures leave the value alone
}

TEST(config_types, doubles) {
  config c = default_config();
  EXPECT_EQ(apply_setting(c, "alerts.expire_hours", "1.25"), "");
  EXPECT_EQ(c.alerts.expire_hours, 1.25);
  EXPECT_EQ(apply_setting(c, "alerts.expire_hours", "2"), "");
  EXPECT_EQ(c.alerts.expire_hours, 2.0);
  EXPECT_THAT(apply_setting(c, "alerts.expire_hours", "soon"), HasSubstr("expected a number"));
  EXPECT_THAT(apply_setting(c, "alerts.expire_hours", "1.5h"), HasSubstr("expected a number"));
  EXPECT_THAT(apply_setting(c, "alerts.expire_hours", "inf"), HasSubstr("finite"));
  EXPECT_THAT(apply_setting(c, "alerts.expire_hours", "nan"), HasSubstr("finite"));
}

TEST(config_types, booleans) {
  config c = default_config();
  for (const char* t : {"true", "1", "yes", "on", "TRUE", "On"}) {
    c.server.sync_writes = false;
    EXPECT_EQ(apply_setting(c, "server.sync_writes", t), "") << t;
    EXPECT_TRUE(c.server.sync_writes) << t;
  }
  for (const char* f : {"false", "0", "no", "off"}) {
    c.server.sync_writes = true;
    EXPECT_EQ(apply_setting(c, "server.sync_writes", f), "") << f;
    EXPECT_FALSE(c.server.sync_writes) << f;
  }
  EXPECT_THAT(apply_setting(c, "server.sync_writes", "maybe"),
              HasSubstr("server.sync_writes: expected true/false"));
}

TEST(config_types, wrong_toml_types_name_setting_and_types) {
  EXPECT_THAT(error_of(load_file("[server]\nio_threads = \"4\"\n")),
              HasSubstr("server.io_threads: expected an integer, got a string"));
  EXPECT_THAT(error_of(load_file("[server]\nio_threads = 4.0\n")),
              HasSubstr("server.io_threads: expected an integer, got a float"));
  EXPECT_THAT(error_of(load_file("[server]\nsync_writes = 1\n")),
              HasSubstr("server.sync_writes: expected a boolean, got an integer"));
  EXPECT_THAT(error_of(load_file("[server]\nlisten = 8080\n")),
              HasSubstr("server.listen: expected a string, got an integer"));
  EXPECT_THAT(error_of(load_file("[alerts]\nexpire_hours = \"1\"\n")),
              HasSubstr("alerts.expire_hours: expected a number, got a string"));
  EXPECT_THAT(error_of(load_file("[alerts]\nexpire_hours = inf\n")), HasSubstr("finite"));
}

TEST(config_types, toml_doubles_accept_integers) {
  const auto r = load_file("[alerts]\nhours_between_alerts = 2\nexpire_hours = 0.5\n");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->alerts.hours_between_alerts, 2.0);
  EXPECT_EQ(r.value->alerts.expire_hours, 0.5);
}

TEST(config_types, env_value_errors_name_the_variable) {
  const auto e = error_of(load_env({{"GOTEL_SERVER_IO_THREADS", "many"}}));
  EXPECT_THAT(e, HasSubstr("GOTEL_SERVER_IO_THREADS"));
  EXPECT_THAT(e, HasSubstr("expected an integer, got \"many\""));
}

TEST(config_types, bad_toml_syntax_names_file_and_line) {
  temp_file f("[server]\nnode_id = \"ok\"\nlisten = = 3\n");
  const auto e = error_of(load_path(f.path()));
  EXPECT_THAT(e, HasSubstr(f.path() + ":3:"));
}

// --- validation: one test per rule ------------------------------------------------

std::string invalid_with(const std::string& name, const std::string& value) {
  return error_of(load_set(name, value));
}

TEST(config_validate, listen) {
  EXPECT_THAT(invalid_with("server.listen", "localhost"), HasSubstr("server.listen"));
  EXPECT_THAT(invalid_with("server.listen", ":8080"), HasSubstr("server.listen"));
  EXPECT_THAT(invalid_with("server.listen", "h:70000"), HasSubstr("server.listen"));
  EXPECT_TRUE(load_set("server.listen", "127.0.0.1:0").value);  // ephemeral port
  EXPECT_TRUE(load_set("server.listen", "[::1]:8080").value);
}

TEST(config_validate, threads_not_negative) {
  EXPECT_THAT(invalid_with("server.io_threads", "-1"), HasSubstr("server.io_threads must be >= 0"));
  EXPECT_THAT(invalid_with("server.scheduler_threads", "-1"),
              HasSubstr("server.scheduler_threads must be >= 0"));
}

TEST(config_validate, size_limits_positive) {
  EXPECT_THAT(invalid_with("server.max_body_bytes", "0"),
              HasSubstr("server.max_body_bytes must be > 0"));
  EXPECT_THAT(invalid_with("server.max_field_bytes", "0"),
              HasSubstr("server.max_field_bytes must be > 0"));
  EXPECT_THAT(invalid_with("server.max_notes_bytes", "0"),
              HasSubstr("server.max_notes_bytes must be > 0"));
}

TEST(config_validate, field_limit_within_body_limit) {
  EXPECT_THAT(
      error_of(load_sets({{"server.max_body_bytes", "100"}, {"server.max_field_bytes", "101"}})),
      HasSubstr("server.max_field_bytes (101) must not exceed server.max_body_bytes (100)"));
}

TEST(config_validate, request_timeout_positive) {
  EXPECT_THAT(invalid_with("server.request_timeout_ms", "0"),
              HasSubstr("server.request_timeout_ms must be > 0"));
}

TEST(config_validate, history_at_least_one) {
  EXPECT_THAT(invalid_with("server.history_per_reservation", "0"),
              HasSubstr("server.history_per_reservation must be >= 1"));
}

TEST(config_validate, node_id_not_empty) {
  EXPECT_THAT(invalid_with("server.node_id", ""), HasSubstr("server.node_id must not be empty"));
}

TEST(config_validate, node_id_not_a_role_row) {
  EXPECT_THAT(invalid_with("server.node_id", "Coordinator"),
              HasSubstr("server.node_id must not be \"coordinator\" or \"worker\""));
  EXPECT_THAT(invalid_with("server.node_id", "worker "), HasSubstr("role rows"));
}

TEST(config_validate, hours_between_alerts_positive) {
  EXPECT_THAT(invalid_with("alerts.hours_between_alerts", "0"),
              HasSubstr("alerts.hours_between_alerts must be > 0"));
}

TEST(config_validate, bake_and_grace_not_negative) {
  EXPECT_THAT(invalid_with("alerts.initial_bake_seconds", "-1"),
              HasSubstr("alerts.initial_bake_seconds must be >= 0"));
  EXPECT_THAT(invalid_with("alerts.grace_seconds", "-1"),
              HasSubstr("alerts.grace_seconds must be >= 0"));
}

TEST(config_validate, webhook_url_is_http) {
  EXPECT_THAT(invalid_with("alerts.webhook_url", "ftp://x"), HasSubstr("alerts.webhook_url"));
  EXPECT_TRUE(load_set("alerts.webhook_url", "http://127.0.0.1:9/x").value);
  EXPECT_TRUE(load_set("alerts.webhook_url", "https://hooks.example/x").value);
}

TEST(config_validate, webhook_timeout_positive) {
  EXPECT_THAT(invalid_with("alerts.webhook_timeout_ms", "0"),
              HasSubstr("alerts.webhook_timeout_ms must be > 0"));
}

TEST(config_validate, retry_delays) {
  EXPECT_THAT(invalid_with("alerts.retry_initial_ms", "0"),
              HasSubstr("alerts.retry_initial_ms must be > 0"));
  EXPECT_THAT(
      error_of(load_sets({{"alerts.retry_initial_ms", "2000"}, {"alerts.retry_max_ms", "1000"}})),
      HasSubstr("alerts.retry_initial_ms (2000) must not exceed alerts.retry_max_ms (1000)"));
}

TEST(config_validate, expire_hours_positive) {
  EXPECT_THAT(invalid_with("alerts.expire_hours", "0"),
              HasSubstr("alerts.expire_hours must be > 0"));
}

TEST(config_validate, log_level) {
  EXPECT_THAT(invalid_with("log.level", "verbose"), HasSubstr("log.level must be one of"));
  for (const char* level : {"trace", "debug", "info", "warn", "error"})
    EXPECT_TRUE(load_set("log.level", level).value) << level;
}

TEST(config_validate, tls_cert_and_key_come_together) {
  EXPECT_THAT(invalid_with("server.tls_cert", "/etc/gotel/cert.pem"),
              HasSubstr("server.tls_cert and server.tls_key must be set together"));
  EXPECT_THAT(invalid_with("server.tls_key", "/etc/gotel/key.pem"),
              HasSubstr("server.tls_cert and server.tls_key must be set together"));
  // Paths only: whether the files exist and match is the daemon's startup check.
  const auto r = load_sets({{"server.tls_cert", "/nonexistent/cert.pem"},
                            {"server.tls_key", "/nonexistent/key.pem"}});
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->server.tls_cert, "/nonexistent/cert.pem");
  EXPECT_EQ(r.value->server.tls_key, "/nonexistent/key.pem");
}

TEST(config_validate, tls_paths_from_the_environment) {
  const auto r = load_env({{"GOTEL_SERVER_TLS_CERT", "/c.pem"}, {"GOTEL_SERVER_TLS_KEY", "/k.pem"},
                           {"GOTEL_SERVER_TLS_MIN_VERSION", "1.3"}});
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->server.tls_cert, "/c.pem");
  EXPECT_EQ(r.value->server.tls_key, "/k.pem");
  EXPECT_EQ(r.value->server.tls_min_version, "1.3");
}

TEST(config_validate, tls_min_version_is_1_2_or_1_3) {
  for (const char* bad : {"1.1", "1.0", "TLSv1.2", "", "1.4"})
    EXPECT_THAT(invalid_with("server.tls_min_version", bad),
                HasSubstr("server.tls_min_version must be 1.2 or 1.3")) << bad;
  EXPECT_TRUE(load_set("server.tls_min_version", "1.2").value);
  EXPECT_TRUE(load_set("server.tls_min_version", "1.3").value);
}

TEST(config_validate, cluster_tls_mode) {
  EXPECT_EQ(default_config().cluster.tls, defaults::cluster_tls);
  EXPECT_THAT(invalid_with("cluster.tls", "on"),
              HasSubstr("cluster.tls must be off, mutual or anonymous"));
  EXPECT_TRUE(load_set("cluster.tls", "anonymous").value);
}

TEST(config_validate, cluster_tls_mutual_needs_cert_key_and_ca) {
  auto e = error_of(load_sets({{"cluster.tls", "mutual"}, {"cluster.tls_cert", "/n1.pem"}}));
  EXPECT_THAT(e, HasSubstr("missing: cluster.tls_key, cluster.tls_ca"));
  EXPECT_TRUE(load_sets({{"cluster.tls", "mutual"},
                         {"cluster.tls_cert", "/n1.pem"},
                         {"cluster.tls_key", "/n1.key"},
                         {"cluster.tls_ca", "/ca.pem"}})
                  .value);
}

TEST(config_validate, cluster_tls_files_without_mutual_are_an_error_not_ignored) {
  // A certificate configured while cluster.tls is off would be silently unused.
  EXPECT_THAT(error_of(load_set("cluster.tls_cert", "/n1.pem")),
              HasSubstr("only used with cluster.tls = \"mutual\" (cluster.tls is \"off\")"));
  EXPECT_THAT(error_of(load_sets({{"cluster.tls", "anonymous"}, {"cluster.tls_ca", "/ca.pem"}})),
              HasSubstr("(cluster.tls is \"anonymous\")"));
}

TEST(config_validate, cluster_tls_key_passphrase_is_masked) {
  auto r = load_sets({{"cluster.tls", "mutual"},
                      {"cluster.tls_cert", "/n1.pem"},
                      {"cluster.tls_key", "/n1.key"},
                      {"cluster.tls_key_passphrase", "pass-7731"},
                      {"cluster.tls_ca", "/ca.pem"}});
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(to_toml(*r.value).find("pass-7731"), std::string::npos);
}

// Issue 14 §7: --print-config and configuration errors printed keys, URL
// passwords and ?token= values verbatim.
TEST(config_print, masks_url_passwords_tokens_and_raw_keys) {
  auto r = load_sets({{"alerts.webhook_url", "https://hook:pw-5521@hooks.example/x?a=1&token=tk-9913#f"},
                      {"pagerduty.url", "https://proxy.example/v2?api_key=ak-4471"},
                      {"server.api_keys", "raw-key-6607"},
                      {"server.ping_keys", "backups:raw-ping-3382"}});
  ASSERT_TRUE(r.value) << r.error;
  const auto text = to_toml(*r.value);
  for (auto secret : {"pw-5521", "tk-9913", "ak-4471", "raw-key-6607", "raw-ping-3382"})
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << "\n" << text;
  EXPECT_THAT(text, HasSubstr("https://hook:***@hooks.example/x?a=1&token=***#f"));
  EXPECT_THAT(text, HasSubstr("backups:***"));
  // Digests are shown: they are what the operator configured and rotates.
  const std::string digest(64, 'a');
  auto d = load_sets({{"server.api_keys", digest}});
  ASSERT_TRUE(d.value) << d.error;
  EXPECT_THAT(to_toml(*d.value), HasSubstr(digest));
}

TEST(config_validate, errors_mask_url_passwords_and_tokens) {
  auto e = error_of(load_set("pagerduty.url", "ftp://user:pw-8812@x.example/?token=tk-1177"));
  EXPECT_THAT(e, HasSubstr("pagerduty.url must start with http://"));
  EXPECT_EQ(e.find("pw-8812"), std::string::npos) << e;
  EXPECT_EQ(e.find("tk-1177"), std::string::npos) << e;
  e = error_of(load_set("alerts.webhook_url", "hxxp://u:pw-2231@h/?secret=s-3349"));
  EXPECT_EQ(e.find("pw-2231"), std::string::npos) << e;
  EXPECT_EQ(e.find("s-3349"), std::string::npos) << e;
}

TEST(mask_credentials, leaves_other_text_alone) {
  EXPECT_EQ(mask_credentials("no url here"), "no url here");
  EXPECT_EQ(mask_credentials("http://h.example:80/p?q=1"), "http://h.example:80/p?q=1");
  EXPECT_EQ(mask_credentials("\"https://u@h/\" and \"http://a:b@c/?Key=k&x=y\""),
            "\"https://u@h/\" and \"http://a:***@c/?Key=***&x=y\"");
}

TEST(config_validate, reports_every_broken_rule) {
  const auto e = error_of(load_sets({{"server.io_threads", "-1"}, {"alerts.grace_seconds", "-1"}}));
  EXPECT_THAT(e, HasSubstr("server.io_threads"));
  EXPECT_THAT(e, HasSubstr("alerts.grace_seconds"));
}

// --- split_host_port ----------------------------------------------------------------

TEST(config_split_host_port, accepts_host_port_and_bracketed_ipv6) {
  using hp = std::pair<std::string, std::uint16_t>;
  EXPECT_EQ(split_host_port("127.0.0.1:8080"), hp("127.0.0.1", 8080));
  EXPECT_EQ(split_host_port("example.com:0"), hp("example.com", 0));
  EXPECT_EQ(split_host_port("h:65535"), hp("h", 65535));
  EXPECT_EQ(split_host_port("[::1]:80"), hp("::1", 80));
}

TEST(config_split_host_port, rejects_malformed) {
  for (const char* bad : {"", "host", "host:", ":80", "host:65536", "host:-1", "host:8o",
                          "host:123456", "::1:80", "[::1]", "[::1]80", "[]:80", "[::1:80"})
    EXPECT_FALSE(split_host_port(bad)) << bad;
}

// --- printing -------------------------------------------------------------------------

TEST(config_print, has_every_setting_in_its_section) {
  const std::string text = to_toml(default_config());
  for (const auto& name : setting_names()) {
    const auto dot = name.find('.');
    const std::string section = "[" + name.substr(0, dot) + "]";
    const std::string key = "\n" + name.substr(dot + 1) + " = ";
    const auto section_at = text.find(section);
    ASSERT_NE(section_at, std::string::npos) << section;
    EXPECT_NE(text.find(key, section_at), std::string::npos) << name;
  }
}

TEST(config_print, round_trips_through_a_file) {
  config c = default_config();
  c.server.listen = "[::1]:0";
  c.server.node_id = "node \"quoted\" \\ back\tslash\nnew line \x01 ünïcode";
  c.server.port_file = "/tmp/p";
  c.server.io_threads = 7;
  c.server.sync_writes = false;
  c.alerts.hours_between_alerts = 0.1;  // not exact in binary; must still round-trip
  c.alerts.expire_hours = 48;           // integral double prints as a float
  c.alerts.webhook_url = "https://hooks.example/a?b=c&d=#e";
  c.log.level = "trace";
  ASSERT_EQ(validate(c), "");

  temp_file f(to_toml(c));
  const auto r = load_path(f.path());
  ASSERT_TRUE(r.value) << r.error << "\n" << to_toml(c);
  EXPECT_TRUE(same(*r.value, c)) << to_toml(*r.value);
  EXPECT_EQ(to_toml(*r.value), to_toml(c));
}

TEST(config_print, defaults_round_trip) {
  temp_file f(to_toml(default_config()));
  const auto r = load_path(f.path());
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_TRUE(same(*r.value, default_config()));
}

// --- docs -----------------------------------------------------------------------------

TEST(config_docs, configuration_md_lists_every_setting_and_env_name) {
  std::ifstream in(std::string(GOTEL_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md is missing";
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& name : setting_names()) {
    EXPECT_NE(text.str().find("`" + name + "`"), std::string::npos) << name;
    EXPECT_NE(text.str().find("`" + env_name(name) + "`"), std::string::npos) << env_name(name);
  }
}

}  // namespace
}  // namespace gotel
