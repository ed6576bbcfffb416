#include "net/paging.hpp"

#include "net/manage.hpp"

#include <algorithm>
#include <charconv>

namespace gotel {

namespace {

constexpr std::pair<std::string_view, listing_sort> sort_names[] = {
  {"name", listing_sort::name},
  {"job_id", listing_sort::job_id},
  {"last_checkin", listing_sort::last_checkin},
  {"checkins", listing_sort::checkins},
  {"status", listing_sort::status},
};

std::string_view name_of(listing_sort s) {
  for (auto& [name, value] : sort_names)
    if (value == s)
      return name;
  return "name";
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0)
    return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (ec != std::errc{} || end != hex.data() + i + 2)
      return std::nullopt;
    out.push_back(static_cast<char>(v));
  }
  return out;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

/// The cursor after `key` (sort value `value`) in the order of `q`:
/// "<sort>.<a|d>.<value>.<hex key>", opaque to clients.
std::string make_cursor(const listing_query& q, std::int64_t value, std::string_view key) {
  return std::string{name_of(q.sort)} + (q.descending ? ".d." : ".a.") + std::to_string(value)
         + "." + to_hex(key);
}

/// Decodes `text` into q's cursor; false when it is not one of this order's.
bool read_cursor(std::string_view text, listing_query& q) {
  auto next = [&text](std::string_view& part) {
    auto dot = text.find('.');
    if (dot == std::string_view::npos)
      return false;
    part = text.substr(0, dot);
    text.remove_prefix(dot + 1);
    return true;
  };
  std::string_view sort, dir, value;
  if (!next(sort) || !next(dir) || !next(value))
    return false;
  if (sort != name_of(q.sort) || dir != (q.descending ? "d" : "a"))
    return false;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), q.cursor_value);
  if (ec != std::errc{} || end != value.data() + value.size())
    return false;
  auto key = from_hex(text);
  if (!key || key->empty())
    return false;
  q.cursor_key = std::move(*key);
  q.has_cursor = true;
  return true;
}

std::int64_t sort_value(const listing_query& q, const reservation_record& rec, unix_ms now,
                        const schedule_policy& policy) {
  switch (q.sort) {
    case listing_sort::name: return 0;
    case listing_sort::job_id: return static_cast<std::int64_t>(rec.job_id);
    case listing_sort::last_checkin: return rec.last_checkin_ms;
    case listing_sort::checkins: return static_cast<std::int64_t>(rec.checkins);
    case listing_sort::status: return static_cast<std::int64_t>(state_of(rec, now, policy));
  }
  return 0;
}

struct candidate {
  std::int64_t value = 0;
  std::string key;
  reservation_record rec;
};

/// Strictly before in the order of `q` (value, then key; both reversed when descending).
bool before(const listing_query& q, std::int64_t va, std::string_view ka, std::int64_t vb,
            std::string_view kb) {
  if (q.descending) {
    std::swap(va, vb);
    std::swap(ka, kb);
  }
  return va < vb || (va == vb && ka < kb);
}

/// The first key of `app`'s reservations is just after this (reservation keys
/// are "<app>\0<component>", and none is "<app>" alone).
std::string app_start(const listing_query& q) {
  return q.app ? *q.app : std::string{};
}

bool in_app(const listing_query& q, std::string_view key) {
  if (!q.app)
    return true;
  return key.size() > q.app->size() && key.compare(0, q.app->size(), *q.app) == 0
         && key[q.app->size()] == '\0';
}

}  // namespace

std::optional<listing_query> parse_listing_query(std::string_view target, std::string& why) {
  listing_query q;
  if (auto status = query_param(target, "status")) {
    if (*status == "ok")
      q.status = job_state::ok;
    else if (*status == "late")
      q.status = job_state::late;
    else if (*status == "paused")
      q.status = job_state::paused;
    else if (!status->empty()) {
      why = "status must be ok, late or paused";
      return std::nullopt;
    }
  }
  auto name_filter = [&](const char* param, std::optional<std::string>& out) {
    if (auto v = query_param(target, param); v && !v->empty())
      out = normalize_name(*v);
  };
  name_filter("app", q.app);
  name_filter("component", q.component);
  name_filter("tag", q.tag);
  if (auto v = query_param(target, "q"))
    q.search = ascii_lower(*v);
  if (auto v = query_param(target, "sort"); v && !v->empty()) {
    bool known = false;
    for (auto& [name, value] : sort_names)
      if (*v == name) {
        q.sort = value;
        known = true;
      }
    if (!known) {
      why = "sort must be name, job_id, last_checkin, checkins or status";
      return std::nullopt;
    }
  }
  if (auto v = query_param(target, "order"); v && !v->empty()) {
    if (*v != "asc" && *v != "desc") {
      why = "order must be asc or desc";
      return std::nullopt;
    }
    q.descending = *v == "desc";
  }
  if (auto v = query_param(target, "limit")) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || end != v->data() + v->size() || n < 1 || n > max_page_size) {
      why = "limit must be a whole number from 1 to " + std::to_string(max_page_size);
      return std::nullopt;
    }
    q.limit = n;
  }
  if (auto v = query_param(target, "cursor"); v && !v->empty()) {
    if (!read_cursor(*v, q)) {
      why = "cursor is not one this listing gave out for this sort and order (use the "
            "next_cursor of the previous page, with the same sort and order)";
      return std::nullopt;
    }
  }
  return q;
}

bool needs_full_pass(const listing_query& q) {
  return q.sort != listing_sort::name || q.descending || q.app || q.component || q.tag
         || !q.search.empty();
}

bool listing_matches(const listing_query& q, const reservation_record& rec, unix_ms now,
                     const schedule_policy& policy) {
  if (q.app && normalize_name(rec.app) != *q.app)
    return false;
  if (q.component && normalize_name(rec.component) != *q.component)
    return false;
  if (q.tag && std::find(rec.tags.begin(), rec.tags.end(), *q.tag) == rec.tags.end())
    return false;
  if (q.status && state_of(rec, now, policy) != *q.status)
    return false;
  if (!q.search.empty()) {
    // What the web UI's search box looks in: id, names, owner and tags.
    std::string hay = std::to_string(rec.job_id);
    for (auto* part : {&rec.app, &rec.component, &rec.owner}) {
      hay += ' ';
      hay += ascii_lower(*part);
    }
    for (auto& t : rec.tags) {
      hay += ' ';
      hay += t;
    }
    if (hay.find(q.search) == std::string::npos)
      return false;
  }
  return true;
}

listing_page select_page(const listing_query& q, unix_ms now, const schedule_policy& policy,
                         const reservation_scan& scan, storage::status& st) {
  listing_page page;
  if (!needs_full_pass(q)) {
    // Key order: seek past the cursor, read one page (and one more row).
    std::string last_key;
    bool more = false;
    st = scan(q.has_cursor ? q.cursor_key : std::string{},
              [&](const std::string& key, reservation_record&& rec) {
                if (!listing_matches(q, rec, now, policy))
                  return true;
                if (page.rows.size() == q.limit) {
                  more = true;
                  return false;
                }
                last_key = key;
                page.rows.push_back(std::move(rec));
                return true;
              });
    if (more)
      page.next_cursor = make_cursor(q, 0, last_key);
    return page;
  }
  // One pass: count every match, keep the best limit + 1 after the cursor.
  std::vector<candidate> best;
  auto keep = q.limit + 1;
  auto order = [&q](const candidate& a, const candidate& b) {
    return before(q, a.value, a.key, b.value, b.key);
  };
  auto trim = [&] {
    if (best.size() <= keep)
      return;
    std::nth_element(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(keep - 1),
                     best.end(), order);
    best.resize(keep);
  };
  std::uint64_t matched = 0;
  bool key_order = q.sort == listing_sort::name && !q.descending;
  st = scan(q.app ? app_start(q) : std::string{},
            [&](const std::string& key, reservation_record&& rec) {
              if (!in_app(q, key))
                return false;  // past the app's keys
              if (!listing_matches(q, rec, now, policy))
                return true;
              ++matched;
              auto value = sort_value(q, rec, now, policy);
              if (q.has_cursor && !before(q, q.cursor_value, q.cursor_key, value, key))
                return true;  // on or before the cursor
              // In key order the first limit + 1 after the cursor are the page.
              if (key_order && best.size() == keep)
                return true;
              best.push_back(candidate{value, key, std::move(rec)});
              if (best.size() >= 2 * keep)
                trim();
              return true;
            });
  trim();
  std::sort(best.begin(), best.end(), order);
  if (best.size() > q.limit) {
    best.resize(q.limit);
    page.next_cursor = make_cursor(q, best.back().value, best.back().key);
  }
  page.rows.reserve(best.size());
  for (auto& c : best)
    page.rows.push_back(std::move(c.rec));
  page.total = matched;
  return page;
}

}  // namespace gotel
