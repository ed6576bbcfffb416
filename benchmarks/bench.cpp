// gotel_bench: in-process scenarios on a whole node (actors/node.hpp), each
// printing one JSON line on stdout and progress on stderr. benchmarks/run
// drives them; see benchmarks/README.md.
//
//   gotel_bench create    --data-dir D --count N     memory per reservation, create rate
//   gotel_bench restart   --data-dir D               restore + re-arm time, RSS
//   gotel_bench inproc    --data-dir D --reservations K --duration S [--sync true|false]
//   gotel_bench deadlines --data-dir D --count N     lateness of N deadlines spread over
//                                                    max(5, N/100k) s, all N live
//   gotel_bench storm     --data-dir D --count N     N deadlines due in the same second
//
// Requests go to the coordinator from a few client actors, each keeping
// --window requests outstanding (request/then; nothing blocks per request).

#include "actors/node.hpp"
#include "benchmarks/recording_channel.hpp"
#include "cluster-config/config.hpp"
#include "storage/utf8.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace gotel::bench {
namespace {

using steady = std::chrono::steady_clock;
using json = nlohmann::json;
using drive_done_atom = caf::atom_constant<caf::atom("drivedone")>;

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Resident set size of this process, bytes (VmRSS).
std::int64_t rss_bytes() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoll(line.substr(6)) * 1024;
  return 0;
}

// -- arguments -----------------------------------------------------------------

struct args {
  std::map<std::string, std::string> kv;
  std::string get(const std::string& k, const std::string& def = "") const {
    auto i = kv.find(k);
    return i == kv.end() ? def : i->second;
  }
  std::uint64_t num(const std::string& k, std::uint64_t def) const {
    auto v = get(k);
    return v.empty() ? def : std::stoull(v);
  }
  double real(const std::string& k, double def) const {
    auto v = get(k);
    return v.empty() ? def : std::stod(v);
  }
};

// -- the node ------------------------------------------------------------------

std::unique_ptr<node> start_node(const args& a,
                                 std::shared_ptr<recording_channel> recorder = nullptr) {
  config_sources src;
  src.overrides = {
    {"server.data_dir", a.get("data-dir", "./bench-data")},
    {"server.sync_writes", a.get("sync", "true")},
    {"alerts.log_alerter", "false"},
    // One alert per missed deadline in a run: no repeats.
    {"alerts.hours_between_alerts", "1000"},
    {"log.level", "warn"},
    // Millions of reservations: no total cap (server.max_reservations).
    {"server.max_reservations", "0"},
    {"reservations.passivate_after_seconds", a.get("passivate-after", "120")},
  };
  // Alert-storm grouping (when the build has it) would fold most intents of a
  // storm into one notice; the recording channel must see every intent.
  auto names = setting_names();
  if (std::find(names.begin(), names.end(), "alerts.storm_threshold") != names.end())
    src.overrides.emplace_back("alerts.storm_threshold", "0");
  auto loaded = load_config(src);
  if (!loaded.value) {
    std::cerr << "gotel_bench: config: " << loaded.error << "\n";
    std::exit(1);
  }
  // RocksDB creates the directory but not its parents.
  std::error_code ec;
  std::filesystem::create_directories(loaded.value->server.data_dir, ec);
  std::string error;
  std::vector<std::shared_ptr<alert_channel>> extra;
  if (recorder)
    extra.push_back(recorder);
  auto n = node::start(*loaded.value, error, {}, std::move(extra));
  if (!n) {
    std::cerr << "gotel_bench: cannot start the node: " << error << "\n";
    std::exit(1);
  }
  return n;
}

/// Deadlines the coordinator holds (one per reservation with a next evaluation).
std::uint64_t armed_timers(node& n) {
  caf::scoped_actor self{n.system()};
  std::uint64_t sum = 0;
  self->request(n.coordinator(), caf::infinite, arm_atom::value)
    .receive([&](std::uint64_t c) { sum = c; }, [&](caf::error&) {});
  return sum;
}

/// Waits (bounded) until the coordinator holds at least `n` deadlines.
bool wait_armed(node& nd, std::uint64_t n, std::chrono::seconds limit) {
  auto until = steady::now() + limit;
  while (steady::now() < until) {
    if (armed_timers(nd) >= n)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return false;
}

// -- the client actors -----------------------------------------------------------

/// What one client actor sends: `total` requests (indices first .. first+total-1)
/// with `window` outstanding, until `until`.
struct drive_spec {
  bool reserve = true;  ///< reserve requests, else checkins
  std::uint64_t first = 0;
  std::uint64_t total = 0;
  std::uint64_t window = 1024;
  steady::time_point until = steady::time_point::max();
  std::function<reserve_request(std::uint64_t)> make_reserve;
  std::function<checkin_request(std::uint64_t)> make_checkin;
  /// Called on the client's thread for each successful reply (optional).
  std::function<void(std::uint64_t, const reservation_record&)> on_record;
  std::atomic<std::uint64_t>* progress = nullptr;
};

struct drive_state {
  std::uint64_t sent = 0;
  std::uint64_t done = 0;
  std::uint64_t errors = 0;
};

using driver_pointer = caf::stateful_actor<drive_state>*;

void send_one(driver_pointer self, coordinator_actor coord, std::shared_ptr<drive_spec> spec,
              caf::actor report);

void finish_one(driver_pointer self, coordinator_actor coord, std::shared_ptr<drive_spec> spec,
                caf::actor report) {
  auto& st = self->state;
  ++st.done;
  if (spec->progress)
    spec->progress->fetch_add(1, std::memory_order_relaxed);
  if (st.sent < spec->total && steady::now() < spec->until) {
    send_one(self, coord, spec, report);
  } else if (st.done == st.sent) {
    self->send(report, drive_done_atom::value, st.done, st.errors);
    self->quit();
  }
}

void send_one(driver_pointer self, coordinator_actor coord, std::shared_ptr<drive_spec> spec,
              caf::actor report) {
  auto i = spec->first + self->state.sent++;
  auto on_ok = [=](reservation_record& r) {
    if (spec->on_record)
      spec->on_record(i, r);
    finish_one(self, coord, spec, report);
  };
  auto on_err = [=](caf::error&) {
    ++self->state.errors;
    finish_one(self, coord, spec, report);
  };
  if (spec->reserve)
    self->request(coord, caf::infinite, reserve_atom::value, spec->make_reserve(i))
      .then(on_ok, on_err);
  else
    self->request(coord, caf::infinite, checkin_atom::value, spec->make_checkin(i))
      .then(on_ok, on_err);
}

caf::behavior driver(driver_pointer self, coordinator_actor coord, std::shared_ptr<drive_spec> spec,
                     caf::actor report) {
  auto n = std::min(spec->window, spec->total);
  for (std::uint64_t k = 0; k < n; ++k)
    send_one(self, coord, spec, report);
  if (n == 0) {
    self->send(report, drive_done_atom::value, std::uint64_t{0}, std::uint64_t{0});
    self->quit();
  }
  return {[](caf::ok_atom) {}};
}

struct drive_result {
  std::uint64_t done = 0;
  std::uint64_t errors = 0;
  double seconds = 0;
};

/// Runs `specs` concurrently (one client actor each) and waits for all of them,
/// printing progress to stderr as `label`.
drive_result drive(node& n, std::vector<std::shared_ptr<drive_spec>> specs,
                   const std::string& label, std::uint64_t expected) {
  std::atomic<std::uint64_t> progress{0};
  caf::scoped_actor self{n.system()};
  auto t0 = steady::now();
  for (auto& s : specs) {
    s->progress = &progress;
    n.system().spawn(driver, n.coordinator(), s, caf::actor{self});
  }
  drive_result out;
  std::size_t finished = 0;
  auto last_print = t0;
  while (finished < specs.size()) {
    self->receive(
      [&](drive_done_atom, std::uint64_t done, std::uint64_t errors) {
        out.done += done;
        out.errors += errors;
        ++finished;
      },
      caf::after(std::chrono::milliseconds{250}) >> [] {});
    if (steady::now() - last_print >= std::chrono::seconds{1}) {
      last_print = steady::now();
      if (expected > 0)
        std::fprintf(stderr, "\r  %s: %llu / %llu (%.0f s)   ", label.c_str(),
                     static_cast<unsigned long long>(progress.load()),
                     static_cast<unsigned long long>(expected), seconds_since(t0));
      else
        std::fprintf(stderr, "\r  %s: %llu (%.0f s)   ", label.c_str(),
                     static_cast<unsigned long long>(progress.load()), seconds_since(t0));
      std::fflush(stderr);
    }
  }
  out.seconds = seconds_since(t0);
  std::fprintf(stderr, "\r%70s\r", "");
  return out;
}

reserve_request make_reserve(std::uint64_t i, std::int64_t frequency, time_unit unit) {
  reserve_request r;
  r.app = "app-" + std::to_string(i);
  r.component = "comp";
  r.owner = "bench";
  r.frequency = frequency;
  r.unit = unit;
  return r;
}

/// Creates app-0 .. app-(count-1) with the given period through the coordinator.
drive_result create_reservations(node& n, std::uint64_t count, std::int64_t frequency,
                                 time_unit unit, const std::string& label,
                                 std::function<void(std::uint64_t, const reservation_record&)>
                                   on_record = {}) {
  auto spec = std::make_shared<drive_spec>();
  spec->reserve = true;
  spec->total = count;
  spec->window = 4096;
  spec->make_reserve = [=](std::uint64_t i) { return make_reserve(i, frequency, unit); };
  spec->on_record = std::move(on_record);
  return drive(n, {spec}, label, count);
}

/// p in [0, 1] of sorted values.
template <class T>
T pct(const std::vector<T>& sorted, double p) {
  if (sorted.empty())
    return T{};
  auto idx = static_cast<std::size_t>(std::llround(p * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(idx, sorted.size() - 1)];
}

// -- scenarios ---------------------------------------------------------------------

int cmd_create(const args& a) {
  auto count = a.num("count", 100000);
  auto args_ = a;
  args_.kv.try_emplace("passivate-after", "1");
  auto n = start_node(args_);
  auto rss0 = rss_bytes();
  auto r = create_reservations(*n, count, 1, time_unit::days, "create in-process");
  auto armed = wait_armed(*n, count, std::chrono::seconds{120});
  auto rss1 = rss_bytes();
  // Then every actor passivates (--passivate-after, 1 s here by default): the
  // resting state of a node whose jobs check in less often than that.
  auto t_passivate = steady::now();
  auto limit = t_passivate + std::chrono::seconds{60 + count / 20000};
  while (n->context().active_reservations.load() > 0 && steady::now() < limit)
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  auto passivated = n->context().active_reservations.load() == 0;
  auto passivate_s = seconds_since(t_passivate);
  malloc_trim(0);  // what the allocator still holds of the freed actors is not in use
  auto rss2 = rss_bytes();
  auto t_stop = steady::now();
  n->stop();
  n.reset();
  json out = {
    {"scenario", "create"},
    {"count", count},
    {"errors", r.errors},
    {"create_s", r.seconds},
    {"create_per_s", static_cast<double>(r.done) / r.seconds},
    {"all_armed", armed},
    {"rss_before_bytes", rss0},
    {"rss_active_bytes", rss1},
    {"bytes_per_active_reservation",
     static_cast<double>(rss1 - rss0) / static_cast<double>(count)},
    {"all_passivated", passivated},
    {"passivate_s", passivate_s},
    {"rss_bytes", rss2},
    {"bytes_per_reservation", static_cast<double>(rss2 - rss0) / static_cast<double>(count)},
    {"stop_s", seconds_since(t_stop)},
  };
  std::cout << json_text(out) << std::endl;
  return r.errors == 0 && armed && passivated ? 0 : 1;
}

int cmd_restart(const args& a) {
  auto rss0 = rss_bytes();
  auto t0 = steady::now();
  auto n = start_node(a);
  auto started_s = seconds_since(t0);
  auto restored = n->restored();
  auto armed = wait_armed(*n, restored, std::chrono::seconds{120});
  auto armed_s = seconds_since(t0);
  // Serving: one request answered by a restored reservation actor.
  bool served = false;
  {
    caf::scoped_actor self{n->system()};
    self->request(n->coordinator(), caf::infinite, get_atom::value, key_request{"app-0", "comp"})
      .receive([&](reservation_record&) { served = true; }, [&](caf::error&) {});
  }
  auto serving_s = seconds_since(t0);
  auto rss1 = rss_bytes();
  n->stop();
  n.reset();
  json out = {
    {"scenario", "restart"},
    {"restored", restored},
    {"start_s", started_s},
    {"rearmed_s", armed_s},
    {"serving_s", serving_s},
    {"all_armed", armed},
    {"served", served},
    {"rss_bytes", rss1},
    {"bytes_per_reservation",
     restored ? static_cast<double>(rss1 - rss0) / static_cast<double>(restored) : 0.0},
  };
  std::cout << json_text(out) << std::endl;
  return armed && served ? 0 : 1;
}

int cmd_inproc(const args& a) {
  auto k = a.num("reservations", 10000);
  auto duration = a.real("duration", 5);
  auto clients = a.num("clients", 4);
  auto window = a.num("window", 1024);
  auto n = start_node(a);
  auto c = create_reservations(*n, k, 1, time_unit::days, "reserve");
  std::vector<std::shared_ptr<drive_spec>> specs;
  auto until = steady::now() + std::chrono::duration_cast<steady::duration>(
                                 std::chrono::duration<double>(duration));
  for (std::uint64_t i = 0; i < clients; ++i) {
    auto spec = std::make_shared<drive_spec>();
    spec->reserve = false;
    spec->first = i * 1'000'003;  // distinct walks over the reservations
    spec->total = a.num("max-requests", 100'000'000) / clients;
    spec->window = window;
    spec->until = until;
    spec->make_checkin = [k](std::uint64_t j) {
      checkin_request r;
      r.app = "app-" + std::to_string((j * 2654435761u) % k);
      r.component = "comp";
      r.source = "bench";
      return r;
    };
    specs.push_back(spec);
  }
  auto r = drive(*n, specs, "checkins in-process", 0);
  n->stop();
  n.reset();
  json out = {
    {"scenario", "inproc"},
    {"sync", a.get("sync", "true") == "true"},
    {"reservations", k},
    {"reserve_errors", c.errors},
    {"clients", clients},
    {"window", window},
    {"checkins", r.done},
    {"errors", r.errors},
    {"seconds", r.seconds},
    {"checkins_per_s", static_cast<double>(r.done) / r.seconds},
  };
  std::cout << json_text(out) << std::endl;
  return r.errors == 0 && c.errors == 0 ? 0 : 1;
}

json lateness_summary(std::vector<alert_sample>& s) {
  std::vector<std::int64_t> detect, persisted;
  detect.reserve(s.size());
  persisted.reserve(s.size());
  for (auto& x : s) {
    detect.push_back(x.created_ms - x.deadline_ms);
    persisted.push_back(x.received_ms - x.deadline_ms);
  }
  std::sort(detect.begin(), detect.end());
  std::sort(persisted.begin(), persisted.end());
  return {
    {"detect_p50_ms", pct(detect, 0.5)},      {"detect_p99_ms", pct(detect, 0.99)},
    {"detect_p999_ms", pct(detect, 0.999)},   {"detect_max_ms", detect.empty() ? 0 : detect.back()},
    {"persisted_p50_ms", pct(persisted, 0.5)}, {"persisted_p99_ms", pct(persisted, 0.99)},
    {"persisted_max_ms", persisted.empty() ? 0 : persisted.back()},
  };
}

/// Creates `count` reservations (period one day), then re-reserves each with a
/// period in whole seconds that puts its deadline (created + period) into one of
/// `spread_s` consecutive wall-clock seconds starting at a target far enough
/// ahead that every deadline is armed before the first falls due. None checks
/// in, so each misses exactly one deadline (no repeat within the run:
/// alerts.hours_between_alerts = 1000). Returns the recorded alerts.
struct due_window_result {
  std::vector<alert_sample> samples;
  drive_result create, rearm;
  std::int64_t armed_ahead_ms = 0;  ///< > 0: all armed this long before the first deadline
};

due_window_result due_window(const args& a, std::uint64_t count, std::int64_t spread_s,
                             const std::string& label) {
  auto recorder = std::make_shared<recording_channel>();
  auto n = start_node(a, recorder);
  due_window_result out;
  std::vector<std::int64_t> created(count, 0);
  auto* created_p = created.data();
  out.create = create_reservations(*n, count, 1, time_unit::days, label + ": create",
                                   [created_p](std::uint64_t i, const reservation_record& r) {
                                     created_p[i] = r.created_ms;
                                   });
  auto lead_ms = std::max<std::int64_t>(3000, static_cast<std::int64_t>(out.create.seconds * 2000) + 3000);
  auto target = ((wall_ms() + lead_ms) / 1000 + 1) * 1000;
  auto spec = std::make_shared<drive_spec>();
  spec->total = count;
  spec->window = 4096;
  spec->make_reserve = [created_p, target, spread_s](std::uint64_t i) {
    auto due = target + static_cast<std::int64_t>(i % static_cast<std::uint64_t>(spread_s)) * 1000;
    auto f = (due - created_p[i] + 999) / 1000;
    return make_reserve(i, f, time_unit::seconds);
  };
  out.rearm = drive(*n, {spec}, label + ": arm deadlines", count);
  out.armed_ahead_ms = target - wall_ms();
  auto t0 = steady::now();
  while (recorder->size() < count && seconds_since(t0) < 180 + spread_s) {
    recorder->wait_for(count, std::chrono::seconds{1});
    std::fprintf(stderr, "\r  %s: alerts recorded: %zu / %llu   ", label.c_str(), recorder->size(),
                 static_cast<unsigned long long>(count));
    std::fflush(stderr);
  }
  std::fprintf(stderr, "\r%70s\r", "");
  out.samples = recorder->take();
  n->stop();
  n.reset();
  return out;
}

int cmd_deadlines(const args& a) {
  auto count = a.num("count", 100000);
  // Deadlines spread evenly over `spread` seconds (1M: 100k per second).
  auto spread = static_cast<std::int64_t>(a.num("spread", std::max<std::uint64_t>(5, count / 100000)));
  auto r = due_window(a, count, spread, "deadlines");
  json out = lateness_summary(r.samples);
  out["scenario"] = "deadlines";
  out["count"] = count;
  out["spread_s"] = spread;
  out["errors"] = r.create.errors + r.rearm.errors;
  out["create_s"] = r.create.seconds;
  out["armed_ahead_ms"] = r.armed_ahead_ms;
  out["alerts"] = r.samples.size();
  std::cout << json_text(out) << std::endl;
  return r.samples.size() == count && out["errors"] == 0 ? 0 : 1;
}

int cmd_storm(const args& a) {
  auto count = a.num("count", 100000);
  auto r = due_window(a, count, 1, "storm");
  auto& samples = r.samples;
  std::int64_t min_deadline = INT64_MAX, max_deadline = 0, max_created = 0, max_received = 0;
  for (auto& x : samples) {
    min_deadline = std::min(min_deadline, x.deadline_ms);
    max_deadline = std::max(max_deadline, x.deadline_ms);
    max_created = std::max(max_created, x.created_ms);
    max_received = std::max(max_received, x.received_ms);
  }
  json out = lateness_summary(samples);
  out["scenario"] = "storm";
  out["count"] = count;
  out["errors"] = r.create.errors + r.rearm.errors;
  out["alerts"] = samples.size();
  out["deadline_span_ms"] = samples.empty() ? 0 : max_deadline - min_deadline;
  out["armed_ahead_ms"] = r.armed_ahead_ms;
  // From the last deadline of the second to the last alert detected / persisted.
  out["all_detected_after_last_due_ms"] = samples.empty() ? 0 : max_created - max_deadline;
  out["all_persisted_after_last_due_ms"] = samples.empty() ? 0 : max_received - max_deadline;
  // From the first deadline of the second (includes the second itself).
  out["all_persisted_after_first_due_ms"] = samples.empty() ? 0 : max_received - min_deadline;
  std::cout << json_text(out) << std::endl;
  return samples.size() == count && out["errors"] == 0 ? 0 : 1;
}

int usage() {
  std::cerr << "usage: gotel_bench create|restart|inproc|deadlines|storm --data-dir D "
               "[--count N] [--reservations K] [--duration S] [--clients C] [--window W] "
               "[--sync true|false]\n";
  return 2;
}

}  // namespace
}  // namespace gotel::bench

int main(int argc, char** argv) {
  using namespace gotel::bench;
  if (argc < 2)
    return usage();
  std::string cmd = argv[1];
  args a;
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc)
      return usage();
    a.kv[k.substr(2)] = argv[++i];
  }
  spdlog::set_level(spdlog::level::warn);
  if (cmd == "create")
    return cmd_create(a);
  if (cmd == "restart")
    return cmd_restart(a);
  if (cmd == "inproc")
    return cmd_inproc(a);
  if (cmd == "deadlines")
    return cmd_deadlines(a);
  if (cmd == "storm")
    return cmd_storm(a);
  return usage();
}
