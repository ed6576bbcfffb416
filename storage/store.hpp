#pragma once
/// RocksDB behind a small typed API. rocksdb::Status is converted here, once,
/// into gotel::storage::status; nothing above this layer sees RocksDB types.
///
/// Thread-safety: every member of `store` may be called from any thread.

#include "storage/model.hpp"
#include "storage/restart_index.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace gotel::storage {

enum class errc : std::uint8_t {
  ok,
  not_found,        ///< a lookup found nothing; not a failure
  corruption,       ///< bytes on disk that do not decode
  io_error,         ///< the disk or the file system failed
  invalid_argument, ///< a caller's mistake
  unavailable,      ///< the store is closed or shutting down
};

/// The outcome of a storage operation. `message` never contains secrets.
struct status {
  errc code = errc::ok;
  std::string message;
  bool ok() const { return code == errc::ok; }
  static status success() { return {}; }
};

/// A set of changes applied atomically. Cheap to move.
class write_batch {
 public:
  write_batch();
  ~write_batch();
  write_batch(write_batch&&) noexcept;
  write_batch& operator=(write_batch&&) noexcept;

  void put(const std::string& key, const reservation_record& rec);
  void erase_reservation(const std::string& key);
  /// Appends checkin number `seq` (1-based) to the reservation's history.
  void put_checkin(const std::string& key, std::uint64_t seq, const checkin_entry& e);
  void erase_checkin(const std::string& key, std::uint64_t seq);
  /// Removes the whole checkin history of a reservation.
  void erase_history(const std::string& key);
  void put(const alert_intent& intent);
  void erase_intent(std::uint64_t id);
  void append(std::uint64_t seq, const alert_log_entry& entry);
  void put_meta(const std::string& name, const std::string& value);
  /// Remembers that the change to reservation `key` is not on every node yet.
  void put_unconfirmed(const std::string& key, const unconfirmed_write& w);
  void erase_unconfirmed(const std::string& key);

  std::size_t count() const;
  bool empty() const { return count() == 0; }

  /// Moves every change of `other` into this batch.
  void append_batch(write_batch&& other);

  rocksdb::WriteBatch& raw();

 private:
  std::unique_ptr<rocksdb::WriteBatch> impl_;
};

/// The reservations as they were when it was made (a RocksDB snapshot): a
/// listing read from it in pieces sees one consistent state while changes go
/// on, and holds no record in memory between pieces. Made by store::snapshot();
/// must not outlive its store. Thread-safety: one thread at a time.
class reservation_snapshot {
 public:
  ~reservation_snapshot();
  reservation_snapshot(const reservation_snapshot&) = delete;
  reservation_snapshot& operator=(const reservation_snapshot&) = delete;

  /// Like store::for_each_reservation_after, on the snapshot.
  status for_each_after(
    const std::string& after,
    const std::function<bool(const std::string& key, reservation_record&& rec)>& fn) const;
  std::optional<reservation_record> get(const std::string& key, status& st) const;

 private:
  friend class store;
  struct impl;
  explicit reservation_snapshot(std::unique_ptr<impl> d);
  std::unique_ptr<impl> impl_;
};

struct options {
  std::string path;                 ///< directory of the database
  bool create_if_missing = true;
  std::size_t block_cache_mb = 64;  ///< read cache; listings scan it
};

class store {
 public:
  /// Opens (or creates) the database; nullptr and `st` set on failure.
  static std::unique_ptr<store> open(const options& opts, status& st);
  ~store();

  /// Applies `batch` atomically. With `sync`, returns only after the WAL is on disk.
  status write(write_batch& batch, bool sync);

  /// Calls `fn` for every stored reservation, in key order. Stops when `fn` returns false.
  status for_each_reservation(const std::function<bool(const std::string& key,
                                                       reservation_record&& rec)>& fn) const;
  /// Like for_each_reservation, but starting after `after` (a key; "" = from the
  /// start): how catch-up pages through millions of reservations.
  status for_each_reservation_after(
    const std::string& after,
    const std::function<bool(const std::string& key, reservation_record&& rec)>& fn) const;
  std::optional<reservation_record> get_reservation(const std::string& key, status& st) const;

  /// Calls `fn` for every restart index entry (restart_index.hpp), in key
  /// order, with the reservation key and the decoded entry; both view the
  /// scan's buffers and live only during the call. An entry that does not
  /// decode is passed as nullptr (the caller reads the record instead), so a
  /// bad entry never hides a reservation. Stops when `fn` returns false.
  /// store::open has built the index from the records if it was missing.
  status for_each_index(
    const std::function<bool(std::string_view key, const restart_index* ix)>& fn) const;
  /// How many restart index entries there are (one per reservation): a scan
  /// of the keys, so a restore can size its tables once. With `apps`, also
  /// how many distinct apps they hold (the key's part before its first NUL,
  /// model.hpp's reservation_key).
  std::uint64_t count_index(status& st, std::uint64_t* apps = nullptr) const;

  /// The newest `limit` checkins of a reservation, newest first.
  std::vector<checkin_entry> checkins(const std::string& key, std::size_t limit,
                                      status& st) const;

  status for_each_intent(const std::function<bool(alert_intent&&)>& fn) const;
  /// Alert log entries, newest first, at most `limit`.
  std::vector<alert_log_entry> alert_log(std::size_t limit, status& st) const;
  /// The highest alert log sequence number stored (0 when empty).
  std::uint64_t last_alert_log_seq() const;

  std::optional<std::string> get_meta(const std::string& name, status& st) const;

  /// Every unconfirmed write (put_unconfirmed), in key order; stops when `fn`
  /// returns false.
  status for_each_unconfirmed(
    const std::function<bool(const std::string& key, unconfirmed_write&& w)>& fn) const;

  /// A consistent view of the reservations for reading in pieces (streamed
  /// listings, cursor pages).
  std::unique_ptr<reservation_snapshot> snapshot() const;

  /// Flushes memtables; for tests and clean shutdown.
  status flush();

 private:
  explicit store(rocksdb::DB* db);
  /// Builds the restart index from the records when the meta entry does not
  /// name the current index version (a data directory written before the
  /// index existed, or by an older one): once, in batches, then records it.
  status migrate_index();
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace gotel::storage
