#include "storage/store.hpp"

#include "storage/codec.hpp"
#include "storage/restart_index.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <limits>

namespace gotel::storage {

namespace {

// ---- key layout (storage/FORMAT.md) ----------------------------------------

constexpr std::string_view reservation_ns = "r/";
constexpr std::string_view history_ns = "h/";
constexpr std::string_view outbox_ns = "o/";
constexpr std::string_view alert_log_ns = "l/";
constexpr std::string_view meta_ns = "m/";
constexpr std::string_view unconfirmed_ns = "u/";
constexpr std::string_view index_ns = "i/";

/// The meta entry naming the restart index's format (codec::index_version);
/// absent in a data directory written before the index existed.
const std::string index_meta = "restart_index";

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_be64(std::string_view in) {
  std::uint64_t v = 0;
  for (unsigned char c : in.substr(0, 8)) v = (v << 8) | c;
  return v;
}

std::string reservation_db_key(const std::string& key) {
  std::string k(reservation_ns);
  k += key;
  return k;
}

/// "h/" + u32 BE key length + key. The length makes the prefix of one
/// reservation's history never a prefix of another's, even though reservation
/// keys contain NUL and one key may be a prefix of another.
std::string index_db_key(const std::string& key) {
  std::string k(index_ns);
  k += key;
  return k;
}

std::string history_prefix(const std::string& key) {
  std::string k(history_ns);
  put_be(k, static_cast<std::uint32_t>(key.size()), 4);
  k += key;
  return k;
}

std::string checkin_db_key(const std::string& key, std::uint64_t seq) {
  std::string k = history_prefix(key);
  put_be(k, seq, 8);
  return k;
}

std::string numbered_key(std::string_view ns, std::uint64_t n) {
  std::string k(ns);
  put_be(k, n, 8);
  return k;
}

std::string unconfirmed_db_key(const std::string& key) {
  std::string k(unconfirmed_ns);
  k += key;
  return k;
}

std::string meta_db_key(const std::string& name) {
  std::string k(meta_ns);
  k += name;
  return k;
}

/// The smallest key greater than every key starting with `prefix`.
std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last != 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return end;  // unreachable for our namespaces: none is all 0xff
}

// ---- status ----------------------------------------------------------------

/// The one place where rocksdb::Status becomes storage::status.
status convert(const rocksdb::Status& s) {
  if (s.ok()) return status::success();
  errc code = errc::io_error;
  if (s.IsNotFound()) {
    code = errc::not_found;
  } else if (s.IsCorruption()) {
    code = errc::corruption;
  } else if (s.IsIOError()) {
    code = errc::io_error;
  } else if (s.IsInvalidArgument() || s.IsNotSupported()) {
    code = errc::invalid_argument;
  } else if (s.IsShutdownInProgress() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() ||
             s.IsAborted() || s.IsIncomplete()) {
    code = errc::unavailable;
  }
  return {code, s.ToString()};
}

status corrupt_value(std::string_view what, std::size_t count) {
  return {errc::corruption, std::to_string(count) + " undecodable " + std::string(what) +
                                " value(s) skipped"};
}

/// Iterates [prefix, prefix_end) forwards or backwards. Values that do not
/// decode are skipped and counted; the scan goes on so that one bad value
/// does not hide every good one (the caller still learns of it).
template <class Visit>
status scan(rocksdb::DB& db, std::string_view prefix, bool newest_first, Visit&& visit,
            std::size_t& undecodable, std::string_view seek_from = {},
            const rocksdb::Snapshot* snap = nullptr) {
  const std::string lower(prefix);
  const std::string upper = prefix_end(prefix);
  rocksdb::Slice lower_slice(lower);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro));
  undecodable = 0;
  if (newest_first) {
    it->SeekToLast();
  } else if (!seek_from.empty()) {
    it->Seek(rocksdb::Slice(lower + std::string(seek_from)));
  } else {
    it->SeekToFirst();
  }
  for (; it->Valid(); newest_first ? it->Prev() : it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    std::string_view v(it->value().data(), it->value().size());
    bool decoded = true;
    bool more = visit(k.substr(prefix.size()), v, decoded);
    if (!decoded) ++undecodable;
    if (!more) break;
  }
  return convert(it->status());
}

/// The newest `limit` decodable values under `prefix`, newest first; undecodable
/// ones are skipped and reported as corruption after the good ones.
template <class T, class Decode>
std::vector<T> newest(rocksdb::DB& db, std::string_view prefix, std::size_t limit, Decode decode,
                      const char* what, status& st) {
  std::vector<T> out;
  if (limit == 0) {
    st = status::success();
    return out;
  }
  std::size_t bad = 0;
  st = scan(
      db, prefix, true,
      [&](std::string_view, std::string_view value, bool& decoded) {
        auto e = decode(value);
        if (!e) {
          decoded = false;
          return true;
        }
        out.push_back(std::move(*e));
        return out.size() < limit;
      },
      bad);
  if (st.ok() && bad > 0) st = corrupt_value(what, bad);
  return out;
}

/// Replays every operation of a batch into another batch.
class batch_copier final : public rocksdb::WriteBatch::Handler {
 public:
  explicit batch_copier(rocksdb::WriteBatch& target) : target_(target) {}

  // GoTel uses only the default column family; anything else is refused below.
  rocksdb::Status PutCF(std::uint32_t cf, const rocksdb::Slice& k,
                        const rocksdb::Slice& v) override {
    return cf == 0 ? target_.Put(k, v) : unsupported();
  }
  rocksdb::Status DeleteCF(std::uint32_t cf, const rocksdb::Slice& k) override {
    return cf == 0 ? target_.Delete(k) : unsupported();
  }
  rocksdb::Status SingleDeleteCF(std::uint32_t cf, const rocksdb::Slice& k) override {
    return cf == 0 ? target_.SingleDelete(k) : unsupported();
  }
  rocksdb::Status DeleteRangeCF(std::uint32_t cf, const rocksdb::Slice& b,
                                const rocksdb::Slice& e) override {
    return cf == 0 ? target_.DeleteRange(b, e) : unsupported();
  }
  rocksdb::Status MergeCF(std::uint32_t cf, const rocksdb::Slice& k,
                          const rocksdb::Slice& v) override {
    return cf == 0 ? target_.Merge(k, v) : unsupported();
  }
  void LogData(const rocksdb::Slice& blob) override { target_.PutLogData(blob); }

 private:
  static rocksdb::Status unsupported() {
    return rocksdb::Status::NotSupported("column families are not used by gotel");
  }
  rocksdb::WriteBatch& target_;
};

}  // namespace

// ---- write_batch -----------------------------------------------------------

write_batch::write_batch() : impl_(std::make_unique<rocksdb::WriteBatch>()) {}
write_batch::~write_batch() = default;
write_batch::write_batch(write_batch&&) noexcept = default;
write_batch& write_batch::operator=(write_batch&&) noexcept = default;

rocksdb::WriteBatch& write_batch::raw() {
  // A moved-from batch has no impl; it becomes a fresh empty one when used again.
  if (!impl_) impl_ = std::make_unique<rocksdb::WriteBatch>();
  return *impl_;
}

std::size_t write_batch::count() const { return impl_ ? impl_->Count() : 0; }

void write_batch::put(const std::string& key, const reservation_record& rec) {
  raw().Put(reservation_db_key(key), codec::encode(rec));
  // The restart index entry goes with its record, in the same atomic batch.
  raw().Put(index_db_key(key), codec::encode(index_of(rec)));
}

void write_batch::erase_reservation(const std::string& key) {
  raw().Delete(reservation_db_key(key));
  raw().Delete(index_db_key(key));
}

void write_batch::put_checkin(const std::string& key, std::uint64_t seq, const checkin_entry& e) {
  raw().Put(checkin_db_key(key, seq), codec::encode(e));
}

void write_batch::erase_checkin(const std::string& key, std::uint64_t seq) {
  raw().Delete(checkin_db_key(key, seq));
}

void write_batch::erase_history(const std::string& key) {
  const std::string prefix = history_prefix(key);
  raw().DeleteRange(prefix, prefix_end(prefix));
}

void write_batch::put(const alert_intent& intent) {
  raw().Put(numbered_key(outbox_ns, intent.id), codec::encode(intent));
}

void write_batch::erase_intent(std::uint64_t id) { raw().Delete(numbered_key(outbox_ns, id)); }

void write_batch::append(std::uint64_t seq, const alert_log_entry& entry) {
  raw().Put(numbered_key(alert_log_ns, seq), codec::encode(entry));
}

void write_batch::put_meta(const std::string& name, const std::string& value) {
  raw().Put(meta_db_key(name), value);
}

void write_batch::put_unconfirmed(const std::string& key, const unconfirmed_write& w) {
  raw().Put(unconfirmed_db_key(key), codec::encode(w));
}

void write_batch::erase_unconfirmed(const std::string& key) {
  raw().Delete(unconfirmed_db_key(key));
}

void write_batch::append_batch(write_batch&& other) {
  if (other.count() == 0) return;
  if (count() == 0) {
    std::swap(impl_, other.impl_);
  } else {
    batch_copier copier(raw());
    // Cannot fail: every batch here is built by write_batch on the default
    // column family, which the copier accepts.
    other.impl_->Iterate(&copier);
  }
  other.impl_.reset();
}

// ---- store -----------------------------------------------------------------

store::store(rocksdb::DB* db) : db_(db) {}

store::~store() {
  if (db_) db_->Close();
}

std::unique_ptr<store> store::open(const options& opts, status& st) {
  rocksdb::Options o;
  o.create_if_missing = opts.create_if_missing;
  // Small keys and values, read by point lookup (reservations, meta) and by
  // short prefix scans (history, outbox, log). Default leveled compaction fits.
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(opts.block_cache_mb << 20);
  // Whole-key bloom filters save a disk read for lookups of absent keys.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Two background threads: this machine kind has two cores.
  o.IncreaseParallelism(2);

  rocksdb::DB* raw = nullptr;
  st = convert(rocksdb::DB::Open(o, opts.path, &raw));
  if (!st.ok()) return nullptr;
  std::unique_ptr<store> s(new store(raw));
  st = s->migrate_index();
  if (!st.ok()) return nullptr;
  return s;
}

status store::migrate_index() {
  const std::string version(1, static_cast<char>('0' + codec::index_version));
  status st;
  if (auto meta = get_meta(index_meta, st); meta && *meta == version) return st;
  if (!st.ok() && st.code != errc::not_found) return st;
  // Entries of another version, or of a migration a crash interrupted, go first.
  const std::string lower(index_ns);
  const std::string upper = prefix_end(index_ns);
  rocksdb::WriteOptions wo;
  st = convert(db_->DeleteRange(wo, db_->DefaultColumnFamily(), lower, upper));
  if (!st.ok()) return st;
  // Batches of a few thousand entries: bounded memory whatever the count. Not
  // synced: the meta entry below is, and only it says the index is complete.
  constexpr std::size_t batch_entries = 8192;
  rocksdb::WriteBatch batch;
  std::size_t bad = 0;
  status write_st;
  st = scan(
      *db_, reservation_ns, false,
      [&](std::string_view key, std::string_view value, bool& decoded) {
        auto rec = codec::decode_reservation(value);
        if (!rec) {
          decoded = false;
          return true;
        }
        batch.Put(std::string(index_ns) + std::string(key), codec::encode(index_of(*rec)));
        if (batch.Count() >= batch_entries) {
          write_st = convert(db_->Write(wo, &batch));
          batch.Clear();
        }
        return write_st.ok();
      },
      bad);
  if (!st.ok()) return st;
  if (!write_st.ok()) return write_st;
  // Like a restore from the records did, a record that does not decode stops
  // the start rather than leaving a reservation unmonitored unnoticed.
  if (bad > 0) return corrupt_value("reservation", bad);
  batch.Put(meta_db_key(index_meta), version);
  wo.sync = true;
  return convert(db_->Write(wo, &batch));
}

status store::for_each_index(
    const std::function<bool(std::string_view key, const restart_index* ix)>& fn) const {
  std::size_t bad = 0;
  return scan(
      *db_, index_ns, false,
      [&](std::string_view key, std::string_view value, bool&) {
        auto ix = codec::decode_index(value);
        return fn(key, ix ? &*ix : nullptr);
      },
      bad);
}

status store::write(write_batch& batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return convert(db_->Write(wo, &batch.raw()));
}

status store::for_each_reservation(
    const std::function<bool(const std::string& key, reservation_record&& rec)>& fn) const {
  return for_each_reservation_after({}, fn);
}

namespace {

status reservations_after(
    rocksdb::DB& db, const rocksdb::Snapshot* snap, const std::string& after,
    const std::function<bool(const std::string& key, reservation_record&& rec)>& fn) {
  std::size_t bad = 0;
  status st = scan(
      db, reservation_ns, false,
      [&](std::string_view key, std::string_view value, bool& decoded) {
        if (!after.empty() && key == after) return true;  // Seek lands on `after` itself
        auto rec = codec::decode_reservation(value);
        if (!rec) {
          decoded = false;
          return true;
        }
        return fn(std::string(key), std::move(*rec));
      },
      bad, after, snap);
  if (st.ok() && bad > 0) return corrupt_value("reservation", bad);
  return st;
}

}  // namespace

struct reservation_snapshot::impl {
  rocksdb::DB* db = nullptr;
  const rocksdb::Snapshot* snap = nullptr;
};

reservation_snapshot::reservation_snapshot(std::unique_ptr<impl> d) : impl_(std::move(d)) {}

reservation_snapshot::~reservation_snapshot() {
  if (impl_ && impl_->snap) impl_->db->ReleaseSnapshot(impl_->snap);
}

status reservation_snapshot::for_each_after(
    const std::string& after,
    const std::function<bool(const std::string& key, reservation_record&& rec)>& fn) const {
  return reservations_after(*impl_->db, impl_->snap, after, fn);
}

std::optional<reservation_record> reservation_snapshot::get(const std::string& key,
                                                            status& st) const {
  std::string value;
  rocksdb::ReadOptions ro;
  ro.snapshot = impl_->snap;
  st = convert(impl_->db->Get(ro, reservation_db_key(key), &value));
  if (!st.ok()) return std::nullopt;
  auto rec = codec::decode_reservation(value);
  if (!rec) st = corrupt_value("reservation", 1);
  return rec;
}

std::unique_ptr<reservation_snapshot> store::snapshot() const {
  auto d = std::make_unique<reservation_snapshot::impl>();
  d->db = db_.get();
  d->snap = db_->GetSnapshot();
  return std::unique_ptr<reservation_snapshot>(new reservation_snapshot(std::move(d)));
}

status store::for_each_reservation_after(
    const std::string& after,
    const std::function<bool(const std::string& key, reservation_record&& rec)>& fn) const {
  return reservations_after(*db_, nullptr, after, fn);
}

std::optional<reservation_record> store::get_reservation(const std::string& key,
                                                         status& st) const {
  std::string value;
  st = convert(db_->Get(rocksdb::ReadOptions(), reservation_db_key(key), &value));
  if (!st.ok()) return std::nullopt;
  auto rec = codec::decode_reservation(value);
  if (!rec) st = corrupt_value("reservation", 1);
  return rec;
}

std::uint64_t store::count_index(status& st, std::uint64_t* apps) const {
  std::uint64_t n = 0;
  std::uint64_t distinct = 0;
  std::string last_app;
  std::size_t bad = 0;
  st = scan(
      *db_, index_ns, false,
      [&](std::string_view key, std::string_view, bool&) {
        ++n;
        if (apps) {
          // Keys come in order, so one app's keys come together.
          auto app = key.substr(0, key.find('\0'));
          if (distinct == 0 || app != last_app) {
            ++distinct;
            last_app.assign(app);
          }
        }
        return true;
      },
      bad);
  if (apps) *apps = distinct;
  return n;
}

std::vector<checkin_entry> store::checkins(const std::string& key, std::size_t limit,
                                           status& st) const {
  return newest<checkin_entry>(*db_, history_prefix(key), limit, codec::decode_checkin, "checkin",
                               st);
}

status store::for_each_intent(const std::function<bool(alert_intent&&)>& fn) const {
  std::size_t bad = 0;
  status st = scan(
      *db_, outbox_ns, false,
      [&](std::string_view, std::string_view value, bool& decoded) {
        auto intent = codec::decode_intent(value);
        if (!intent) {
          decoded = false;
          return true;
        }
        return fn(std::move(*intent));
      },
      bad);
  if (st.ok() && bad > 0) return corrupt_value("alert intent", bad);
  return st;
}

std::vector<alert_log_entry> store::alert_log(std::size_t limit, status& st) const {
  return newest<alert_log_entry>(*db_, alert_log_ns, limit, codec::decode_alert_log, "alert log",
                                 st);
}

std::uint64_t store::last_alert_log_seq() const {
  std::uint64_t seq = 0;
  std::size_t bad = 0;
  scan(
      *db_, alert_log_ns, true,
      [&](std::string_view key, std::string_view, bool&) {
        if (key.size() == 8) seq = get_be64(key);
        return false;  // only the last key
      },
      bad);
  return seq;
}

status store::for_each_unconfirmed(
    const std::function<bool(const std::string& key, unconfirmed_write&& w)>& fn) const {
  std::size_t bad = 0;
  status st = scan(
      *db_, unconfirmed_ns, false,
      [&](std::string_view key, std::string_view value, bool& decoded) {
        auto w = codec::decode_unconfirmed(value);
        if (!w) {
          decoded = false;
          return true;
        }
        return fn(std::string(key), std::move(*w));
      },
      bad);
  if (st.ok() && bad > 0) return corrupt_value("unconfirmed write", bad);
  return st;
}

std::optional<std::string> store::get_meta(const std::string& name, status& st) const {
  std::string value;
  st = convert(db_->Get(rocksdb::ReadOptions(), meta_db_key(name), &value));
  if (!st.ok()) return std::nullopt;
  return value;
}

status store::flush() { return convert(db_->Flush(rocksdb::FlushOptions())); }

}  // namespace gotel::storage
