// gotel: the daemon. Reads the config (defaults < file < GOTEL_* env < flags),
// starts the node (restoring every reservation) and the HTTP API, and runs
// until SIGINT or SIGTERM.

#include "actors/node.hpp"
#include "cluster-config/config.hpp"
#include "net/api.hpp"
#include "net/auth.hpp"
#include "net/http_server.hpp"
#include "net/log_format.hpp"
#include "net/origin.hpp"
#include "net/forwarded.hpp"
#include "net/tls.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>

extern char** environ;

namespace {

std::map<std::string, std::string> gotel_environment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string entry{*e};
    auto eq = entry.find('=');
    if (eq != std::string::npos && entry.rfind("GOTEL_", 0) == 0)
      out.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return out;
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (the default soft limit,
/// often 1024, is far below what a server holding connections needs) and
/// returns the soft limit now in force.
std::uint64_t raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return 1024;
  if (lim.rlim_cur != lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
      lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? std::uint64_t{1} << 20 : lim.rlim_cur;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GoTel: who monitors the monitors. Cron job check-in monitor."};
  std::string config_file, listen, data_dir, port_file;
  std::vector<std::string> sets;
  bool print_config = false;
  app.add_option("-c,--config", config_file, "TOML config file (also GOTEL_CONFIG)");
  app.add_option("--listen", listen, "HTTP listen address host:port (server.listen)");
  app.add_option("--data-dir", data_dir, "data directory (server.data_dir)");
  app.add_option("--port-file", port_file, "write the bound HTTP port to this file");
  app.add_option("--set", sets, "any setting: section.key=value (repeatable)");
  app.add_flag("--print-config", print_config, "print the effective config and exit");
  CLI11_PARSE(app, argc, argv);

  gotel::config_sources sources;
  sources.env = gotel_environment();
  if (!config_file.empty())
    sources.file = config_file;
  else if (auto i = sources.env.find("GOTEL_CONFIG"); i != sources.env.end() && !i->second.empty())
    sources.file = i->second;
  if (!listen.empty())
    sources.overrides.emplace_back("server.listen", listen);
  if (!data_dir.empty())
    sources.overrides.emplace_back("server.data_dir", data_dir);
  if (!port_file.empty())
    sources.overrides.emplace_back("server.port_file", port_file);
  for (auto& s : sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos) {
      std::cerr << "gotel: --set expects section.key=value, got \"" << s << "\"\n";
      return 2;
    }
    sources.overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  auto loaded = gotel::load_config(sources);
  if (!loaded.value) {
    std::cerr << "gotel: configuration error: " << loaded.error << "\n";
    return 2;
  }
  auto& cfg = *loaded.value;
  if (print_config) {
    std::cout << gotel::to_toml(cfg);
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(cfg.log.level));
  // Control characters in logged values (names, notes, recipients) are escaped:
  // no request can write a second, forged log line.
  gotel::install_log_formatter();

  // Block the stop signals in every thread we start; main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // Keys and exposure are checked before anything touches the data directory.
  auto hp = gotel::split_host_port(cfg.server.listen);
  std::string auth_error;
  auto auth = gotel::make_auth_policy(cfg.server.api_keys, cfg.server.read_only_api_keys,
                                      auth_error);
  auto ping_keys = auth ? gotel::parse_ping_keys(cfg.server.ping_keys, auth_error) : std::nullopt;
  if (!auth || !ping_keys) {
    std::cerr << "gotel: configuration error: " << auth_error << "\n";
    return 2;
  }
  auth->ping = std::move(*ping_keys);
  auth->open_uuid_pings = cfg.server.open_uuid_pings;
  if (!auth->enabled() && !gotel::is_loopback_host(hp->first) && !cfg.server.open_api) {
    std::cerr << "gotel: refusing to listen on " << cfg.server.listen
              << " with no API keys: anyone who can reach it could change every reservation."
                 " Set server.api_keys (docs/security.md), or server.open_api = true to accept"
                 " that.\n";
    return 2;
  }

  // Pages of other origins may not change anything; on loopback, only this
  // server's names are answered (DNS rebinding).
  std::vector<std::string> own_names;
  if (!cfg.server.advertise_address.empty())
    own_names.push_back(cfg.server.advertise_address);
  std::string nodes_error;
  for (const auto& n : gotel::parse_nodes(cfg.cluster.nodes, nodes_error))
    if (n.id == cfg.server.node_id)
      own_names.push_back(n.http);
  std::string origin_error;
  auto origins = gotel::make_origin_policy(hp->first, cfg.server.allowed_origins,
                                           cfg.server.allowed_hosts, own_names, origin_error);
  if (!origins) {
    std::cerr << "gotel: configuration error: " << origin_error << "\n";
    return 2;
  }

  // A ping's source behind a reverse proxy: X-Forwarded-For, from trusted peers only.
  std::string proxies_error;
  auto proxies = gotel::trusted_proxies::parse(cfg.server.trusted_proxies, proxies_error);
  if (!proxies) {
    std::cerr << "gotel: configuration error: " << proxies_error << "\n";
    return 2;
  }

  // So are the TLS files: a typo in a path is a configuration error, not a node
  // that starts and then serves nothing.
  std::shared_ptr<boost::asio::ssl::context> tls;
  if (!cfg.server.tls_cert.empty()) {
    std::string tls_error;
    tls = gotel::make_tls_context(
      {cfg.server.tls_cert, cfg.server.tls_key, cfg.server.tls_min_version}, tls_error);
    if (!tls) {
      std::cerr << "gotel: configuration error: " << tls_error << "\n";
      return 2;
    }
  }

  // Unencrypted cluster traffic that leaves the machine is allowed (rolling
  // upgrades, private links) but never unnoticed.
  if (cfg.cluster.tls == "off") {
    std::string ignored;
    for (const auto& n : gotel::parse_nodes(cfg.cluster.nodes, ignored))
      if (!gotel::is_loopback_host(n.cluster_host)) {
        spdlog::warn("cluster traffic is not encrypted (cluster.tls = \"off\") and {} is not a "
                     "loopback address: anyone on the path can read it (docs/security.md)",
                     n.cluster_host);
        break;
      }
  }

  std::string error;
  auto node = gotel::node::start(cfg, error);
  if (!node) {
    spdlog::critical("gotel: {}", error);
    return 1;
  }
  gotel::http_server_options opts;
  opts.host = hp->first;
  opts.port = hp->second;
  opts.threads = cfg.server.io_threads > 0 ? static_cast<std::size_t>(cfg.server.io_threads)
                                           : std::max(2u, std::thread::hardware_concurrency());
  opts.body_limit = static_cast<std::uint64_t>(cfg.server.max_body_bytes);
  opts.header_limit = static_cast<std::uint32_t>(cfg.server.max_header_bytes);
  opts.idle_timeout_ms = static_cast<std::uint32_t>(cfg.server.idle_timeout_ms);
  opts.read_timeout_ms = static_cast<std::uint32_t>(cfg.server.read_timeout_ms);
  opts.client_limits.max_connections =
    static_cast<std::uint32_t>(cfg.server.max_connections_per_client);
  opts.client_limits.rate_per_second = cfg.server.rate_limit_per_second;
  opts.client_limits.burst = static_cast<double>(cfg.server.rate_limit_burst);
  // Connections never take the descriptors that storage, alerts and the
  // cluster need (docs/security.md).
  auto fd_limit = raise_fd_limit();
  opts.max_connections = gotel::connection_cap(
    fd_limit, static_cast<std::uint64_t>(cfg.server.max_connections));
  if (opts.max_connections < static_cast<std::uint64_t>(cfg.server.max_connections))
    spdlog::info("http: at most {} connections at once (server.max_connections is {}, but the "
                 "process may open {} files and keeps {} for its own use)",
                 opts.max_connections, cfg.server.max_connections, fd_limit,
                 gotel::fd_reserve(fd_limit));
  opts.tls = std::move(tls);
  gotel::api api{*node};
  gotel::http_server server{
    opts, gotel::with_forwarded_client(
              std::move(*proxies),
              gotel::with_origin_checks(std::move(*origins),
                                        gotel::with_auth(std::move(*auth), api.handler())))};
  if (auto err = server.start(); !err.empty()) {
    spdlog::critical("gotel: {}", err);
    return 1;
  }
  api.set_bound_address(opts.host + ":" + std::to_string(server.port()));
  if (!cfg.server.port_file.empty()) {
    auto tmp = cfg.server.port_file + ".tmp";
    std::ofstream{tmp} << server.port() << "\n";
    std::rename(tmp.c_str(), cfg.server.port_file.c_str());
  }
  spdlog::info("gotel {} listening on {}://{}:{} (data in {})", cfg.server.node_id,
               opts.tls ? "https" : "http", opts.host, server.port(), cfg.server.data_dir);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("gotel: signal {}, shutting down", sig);
  server.stop();
  // Before the server goes: requests still on the api's pool or waiting for an
  // actor hold their connections, which must not outlive the server's I/O.
  api.stop();
  node->stop();
  return 0;
}
