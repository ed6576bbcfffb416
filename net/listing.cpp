#include "net/listing.hpp"

#include "net/pages.hpp"
#include "storage/utf8.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace gotel {

namespace {

/// One reservation in the order GET /reservation lists: where its key sits
/// in the arena, and its last checkin.
struct index_entry {
  unix_ms last_checkin = 0;
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
};

struct listing_state {
  std::shared_ptr<storage::reservation_snapshot> snap;
  unix_ms now = 0;
  schedule_policy policy;
  std::size_t piece_bytes = listing_piece_bytes;
  bool indexed = false;
  bool done = false;
  std::string arena;  ///< every key, back to back
  std::vector<index_entry> index;
  std::size_t next = 0;

  std::string_view key_of(const index_entry& e) const {
    return std::string_view{arena}.substr(e.offset, e.size);
  }

  void build_index() {
    auto st = snap->for_each_after({}, [&](const std::string& key, reservation_record&& rec) {
      if (arena.size() + key.size() > UINT32_MAX)
        throw std::length_error("GET /reservation: keys beyond 4 GiB");
      index.push_back(index_entry{rec.last_checkin_ms, static_cast<std::uint32_t>(arena.size()),
                                  static_cast<std::uint32_t>(key.size())});
      arena += key;
      return true;
    });
    if (!st.ok())
      throw std::runtime_error("storage failure: " + st.message);
    // Newest checkin first; equal times in key order (the scan's order, which
    // the original's stable sort kept).
    std::sort(index.begin(), index.end(), [this](const index_entry& a, const index_entry& b) {
      if (a.last_checkin != b.last_checkin)
        return a.last_checkin > b.last_checkin;
      return key_of(a) < key_of(b);
    });
    indexed = true;
  }

  bool piece(std::string& out) {
    if (done)
      return false;
    if (!indexed) {
      build_index();
      out += "{\"result\":[";
    }
    while (next < index.size() && out.size() < piece_bytes) {
      storage::status st;
      auto rec = snap->get(std::string{key_of(index[next])}, st);
      if (!rec)
        throw std::runtime_error("storage failure: " + st.message);
      if (next > 0)
        out += ',';
      out += json_text(listing_element(*rec, now, policy));
      ++next;
    }
    if (next < index.size())
      return true;
    out += "],\"success\":true}";
    done = true;
    // The index and the snapshot go now, not when the connection does.
    std::vector<index_entry>{}.swap(index);
    std::string{}.swap(arena);
    snap.reset();
    return false;
  }
};

struct table_state {
  std::shared_ptr<storage::reservation_snapshot> snap;
  unix_ms now = 0;
  schedule_policy policy;
  std::size_t batch = 500;
  bool started = false;
  bool done = false;
  std::string after;  ///< the last key sent

  bool piece(std::string& out) {
    if (done)
      return false;
    std::vector<reservation_record> recs;
    bool more = false;
    auto st = snap->for_each_after(after, [&](const std::string& key, reservation_record&& rec) {
      if (recs.size() == batch) {
        more = true;
        return false;
      }
      after = key;
      recs.push_back(std::move(rec));
      return true;
    });
    if (!st.ok())
      throw std::runtime_error("storage failure: " + st.message);
    if (!started) {
      out += status_page_head();
      started = true;
    }
    out += status_rows(recs, now, policy);
    if (more)
      return true;
    out += status_page_tail();
    done = true;
    snap.reset();
    return false;
  }
};

}  // namespace

body_pieces reservation_listing_pieces(std::shared_ptr<storage::reservation_snapshot> snap,
                                       unix_ms now, schedule_policy policy,
                                       std::size_t piece_bytes) {
  auto state = std::make_shared<listing_state>();
  state->snap = std::move(snap);
  state->now = now;
  state->policy = policy;
  state->piece_bytes = piece_bytes;
  return [state](std::string& out) { return state->piece(out); };
}

body_pieces status_table_pieces(std::shared_ptr<storage::reservation_snapshot> snap,
                                unix_ms now, schedule_policy policy, std::size_t batch) {
  auto state = std::make_shared<table_state>();
  state->snap = std::move(snap);
  state->now = now;
  state->policy = policy;
  state->batch = std::max<std::size_t>(1, batch);
  return [state](std::string& out) { return state->piece(out); };
}

}  // namespace gotel
