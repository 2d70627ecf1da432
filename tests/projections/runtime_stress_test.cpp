// Everything that runs on threads at once, for the thread sanitizer
// (scripts/test.sh --sanitize=thread, with a TSan-built CAF): client threads
// over many streams, passivation churn, transfers in opposite directions,
// an executor shut down with commands in flight, and projections following
// the log beside them. Also a plain correctness test in the default run.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/bank/commands.hpp"
#include "projection_test_support.hpp"
#include "support/bank_audit.hpp"

using namespace eventcore;
using namespace eventcore::testing;

namespace {
bank::AccountId account(int i) { return bank::AccountId::try_new("s" + std::to_string(i)).value(); }
bank::Money money(std::int64_t cents) { return bank::Money::try_new(cents).value(); }

// Counts what it applies; read from the test thread while it runs.
class Counter final : public projections::Projection {
 public:
  explicit Counter(std::shared_ptr<std::atomic<std::uint64_t>> applied) : applied_(std::move(applied)) {}
  void apply(const StoredEvent& event) override {
    if (event.position <= last_) throw std::logic_error("an event applied twice or out of order");
    last_ = event.position;
    applied_->fetch_add(1);
  }

 private:
  std::shared_ptr<std::atomic<std::uint64_t>> applied_;
  GlobalPosition last_{};
};

RuntimeConfig churning_config() {
  RuntimeConfig config;
  config.max_live_streams = 4;  // far fewer than the accounts: stream actors passivate under load
  config.idle_sweep_interval = std::chrono::milliseconds(5);
  config.io_actors = 3;
  config.snapshot_every = 3;
  return config;
}
}  // namespace

TEST_CASE("threads, churning stream actors, opposite-order transfers and a shutdown in flight, "
          "with projections following: no account overdrawn, every event projected once") {
  EVENTCORE_REQUIRE_POSTGRES();
  Fixture fx("stress");
  auto applied = std::make_shared<std::atomic<std::uint64_t>>(0);
  fx.start();
  REQUIRE(fx.runtime->add({.name = "stress_counter", .filter = {.stream_prefix = "account-"}},
                          [applied] { return std::make_unique<Counter>(applied); })
              .ok());

  constexpr int accounts = 16, threads = 6, per_thread = 60;
  std::vector<bank::AccountId> ids;
  for (int i = 0; i < accounts; ++i) ids.push_back(account(i));
  auto executor = CommandExecutor::builder()
                      .with_store(fx.store)
                      .with_config(churning_config())
                      .with_retry_policy(RetryPolicy::exponential(std::chrono::milliseconds(1), 2.0,
                                                                  std::chrono::milliseconds(20), 10))
                      .build()
                      .value();
  for (const auto& id : ids) {
    REQUIRE(executor.execute_sync(bank::OpenAccount{id, "owner"}).ok());
    REQUIRE(executor.execute_sync(bank::Deposit{id, money(1000)}).ok());
  }

  // Pairs shared by neighbouring threads, each pair crossed in both
  // directions: multi-stream commands acquire the same streams from
  // opposite ends. Every tenth command is a single-stream deposit (fast path).
  std::atomic<int> ok{0}, rejected{0}, other{0}, deposits{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t)
    clients.emplace_back([&, t] {
      for (int n = 0; n < per_thread; ++n) {
        const int a = (t + n) % accounts, b = (t + n + 1 + t % 3) % accounts;
        ExecuteResult r = n % 10 == 9 ? executor.execute_sync(bank::Deposit{ids[a], money(7)})
                          : n % 2 == 0
                              ? executor.execute_sync(bank::TransferMoney{ids[a], ids[b], money(90 + n), ""})
                              : executor.execute_sync(bank::TransferMoney{ids[b], ids[a], money(90 + n), ""});
        if (r.ok() && n % 10 == 9) ++deposits;
        if (r.ok()) ++ok;
        else if (r.error().code == CommandErrorCode::validation_failed) ++rejected;
        else ++other;
      }
    });
  for (auto& c : clients) c.join();
  CHECK(other == 0);
  CHECK(ok + rejected == threads * per_thread);

  // A burst still running when the executor shuts down: every command is
  // answered (written, or failed), none hangs.
  constexpr int burst = 200;
  std::mutex mutex;
  std::condition_variable answered_cv;
  int answered = 0;
  for (int n = 0; n < burst; ++n)
    executor.execute(bank::TransferMoney{ids[n % accounts], ids[(n + 5) % accounts], money(1), ""},
                     [&](const ExecuteResult&) {
                       std::lock_guard lock(mutex);
                       ++answered;
                       answered_cv.notify_all();
                     });
  executor.shutdown();
  {
    std::unique_lock lock(mutex);
    CHECK(answered_cv.wait_for(lock, std::chrono::seconds(30), [&] { return answered == burst; }));
  }

  // Nothing was overdrawn, versions are contiguous, money is conserved
  // (deposits add 7 each), and the projection saw every event of the log once.
  const auto audit = audit_accounts(*fx.store, ids);
  const auto events = static_cast<std::uint64_t>(fx.events_in_log());
  CHECK(wait_until([&] { return applied->load() == events; }, std::chrono::seconds(30)));
  CHECK(applied->load() == events);
  CHECK(audit.total == accounts * 1000 + 7 * deposits);
  CHECK(fx.status("stress_counter").state == projections::ProjectionState::running);
}
