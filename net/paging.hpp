#pragma once
/// Pages of the reservation listing (GET /api/v1/reservations and the web UI
/// that calls it, issue 15 §7): filters, an order and an opaque cursor. Pure:
/// the reservations come from a scan function (a store snapshot in the
/// daemon), the page goes out; nothing here holds more than a page.
///
/// How a page is read:
///  - order `name` ascending (the default, the store's key order) with no
///    filter but `status`: seek to the cursor and read until the page is full
///    (one record past it says whether there is a next page). `total` then
///    comes from the per-state counters (actors/state_counts.hpp), not here.
///  - any other order, or a filter the counters cannot count (app, component,
///    tag, q): one pass over the reservations (only the app's keys when `app`
///    is given) that counts every match (`total`) and keeps the best
///    limit + 1 after the cursor.

#include "actors/state_counts.hpp"
#include "storage/store.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gotel {

/// Rows a page holds when the request names no limit, and the most it may ask.
inline constexpr std::size_t default_page_size = 500;
inline constexpr std::size_t max_page_size = 5000;

enum class listing_sort : std::uint8_t { name, job_id, last_checkin, checkins, status };

struct listing_query {
  std::optional<job_state> status;
  std::optional<std::string> app;        ///< normalized (normalize_name)
  std::optional<std::string> component;  ///< normalized
  std::optional<std::string> tag;        ///< normalized
  std::string search;                    ///< lower-cased; "" = no search
  listing_sort sort = listing_sort::name;
  bool descending = false;
  std::size_t limit = default_page_size;
  /// The position after which the page starts (decoded ?cursor=).
  bool has_cursor = false;
  std::int64_t cursor_value = 0;
  std::string cursor_key;
};

/// Reads ?status=&app=&component=&tag=&q=&sort=&order=&limit=&cursor= from
/// `target`; nullopt with `why` set for a malformed or unknown value.
std::optional<listing_query> parse_listing_query(std::string_view target, std::string& why);

/// Whether `total` needs a pass over the reservations (a filter beyond status,
/// or an order other than the key order).
bool needs_full_pass(const listing_query& q);

/// The reservations in key order after `after` ("" = from the first), until
/// the visitor returns false.
using reservation_scan = std::function<storage::status(
  const std::string& after,
  const std::function<bool(const std::string& key, reservation_record&& rec)>& visit)>;

struct listing_page {
  std::vector<reservation_record> rows;
  std::string next_cursor;             ///< "" = this is the last page
  std::optional<std::uint64_t> total;  ///< every match; set when the pass counted them
};

/// The page `q` asks for at wall time `now`. `st` reports a failed scan.
listing_page select_page(const listing_query& q, unix_ms now, const schedule_policy& policy,
                         const reservation_scan& scan, storage::status& st);

/// Whether `rec` passes the filters of `q` (not the cursor).
bool listing_matches(const listing_query& q, const reservation_record& rec, unix_ms now,
                     const schedule_policy& policy);

}  // namespace gotel
