// CheckpointStore in the PostgreSQL store's schema (see checkpoint_store.hpp).

#include <mutex>

#include "eventcore/store/postgres_store.hpp"
#include "postgres_checkpoints.hpp"

namespace eventcore::projections {

namespace {

std::string describe(const std::optional<Checkpoint>& c) { return c ? to_string(*c) : "none"; }

class PostgresCheckpointStore final : public CheckpointStore {
 public:
  explicit PostgresCheckpointStore(Result<pg::ConnectionSettings> settings) : settings_(std::move(settings)) {}

  Result<std::optional<Checkpoint>> load(std::string_view name) override {
    return run<std::optional<Checkpoint>>("load", [&] { return detail::pg_checkpoints::load(session_, name); });
  }
  Status save(std::string_view name, const Checkpoint& checkpoint) override {
    return run_status("save", [&] { detail::pg_checkpoints::save(session_, name, checkpoint); });
  }
  Status compare_and_set(std::string_view name, const std::optional<Checkpoint>& expected,
                         const Checkpoint& next) override {
    std::lock_guard lock(mutex_);
    auto moved = locked<bool>("compare_and_set",
                              [&] { return detail::pg_checkpoints::compare_and_set(session_, name, expected, next); });
    if (!moved) return moved.error();
    if (*moved) return {};
    auto current = locked<std::optional<Checkpoint>>("compare_and_set",
                                                     [&] { return detail::pg_checkpoints::load(session_, name); });
    return Error{ErrorCode::conflict, "the checkpoint of '" + std::string(name) + "' is at " +
                                          (current ? describe(*current) : std::string("an unknown position")) +
                                          ", expected " + describe(expected)};
  }
  Status remove(std::string_view name) override {
    return run_status("remove", [&] { detail::pg_checkpoints::remove(session_, name); });
  }
  Status report(std::string_view name, std::string_view state, std::string_view error,
                std::string_view owner) override {
    return run_status("report", [&] { detail::pg_checkpoints::report(session_, name, state, error, owner); });
  }
  Status dead_letter(std::string_view name, const StoredEvent& event, std::string_view error,
                     int attempts) override {
    return run_status("dead_letter",
                      [&] { detail::pg_checkpoints::dead_letter(session_, name, event, error, attempts); });
  }
  Result<std::uint64_t> dead_letter_count(std::string_view name) override {
    return run<std::uint64_t>("dead_letter_count",
                              [&] { return detail::pg_checkpoints::dead_letter_count(session_, name); });
  }
  Result<std::vector<ProjectionRecord>> list() override {
    return run<std::vector<ProjectionRecord>>("list", [&] { return detail::pg_checkpoints::list(session_); });
  }

 private:
  // One statement on the (re)connected session; the caller holds mutex_.
  template <class T, class F>
  Result<T> locked(const char* what, F&& f) {
    if (!settings_) return settings_.error();
    for (int attempt = 0;; ++attempt) {
      if (!session_.connected()) {
        if (auto s = session_.connect(*settings_); !s) return s.error();
      }
      try {
        return T(f());
      } catch (const pg::SqlFailure& e) {
        // A stale connection (a server restart since its last use) gets one retry on a new one.
        if (e.connection_lost && attempt == 0) continue;
        return Error{e.connection_lost ? ErrorCode::unavailable : ErrorCode::failed,
                     std::string("checkpoint ") + what + ": " + e.what()};
      }
    }
  }
  template <class T, class F>
  Result<T> run(const char* what, F&& f) {
    std::lock_guard lock(mutex_);
    return locked<T>(what, std::forward<F>(f));
  }
  template <class F>
  Status run_status(const char* what, F&& f) {
    auto r = run<bool>(what, [&] {
      f();
      return true;
    });
    if (!r) return r.error();
    return {};
  }

  Result<pg::ConnectionSettings> settings_;
  std::mutex mutex_;
  pg::Session session_;
};

}  // namespace

std::shared_ptr<CheckpointStore> postgres_checkpoint_store(const PostgresStore& store) {
  return std::make_shared<PostgresCheckpointStore>(pg::make_connection_settings(store.config(), "eventcore-checkpoints"));
}

}  // namespace eventcore::projections
