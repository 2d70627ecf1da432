// The production shape: real threads, detached store I/O actors, blocking
// execute_sync from several plain threads at once.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <catch2/catch.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/bank/commands.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/testing/forwarding_store.hpp"
#include "support/bank_audit.hpp"

using namespace eventcore;
using namespace std::chrono_literals;

namespace {
bank::AccountId id(int i) { return bank::AccountId::try_new("t" + std::to_string(i)).value(); }
bank::Money money(std::int64_t c) { return bank::Money::try_new(c).value(); }

CommandExecutor executor_on(std::shared_ptr<EventStore> store, RuntimeConfig config = {}) {
  return CommandExecutor::builder()
      .with_store(std::move(store))
      .with_retry_policy(RetryPolicy::exponential(1ms, 2.0, 20ms, 10))
      .with_config(config)
      .build()
      .value();
}
}  // namespace

TEST_CASE("transfers from several threads and two runtimes on one store never overdraw an account") {
  // Two runtimes are two processes: only the store's version check keeps one
  // from deciding on a balance the other already spent. Without it this test
  // sees overdrafts (and money conserved all the same: paired events keep
  // the total).
  auto store = std::make_shared<MemoryStore>();
  RuntimeConfig config;
  config.io_actors = 2;
  config.max_live_streams = 8;  // fewer than the accounts: passivation under load
  CommandExecutor executors[] = {executor_on(store, config), executor_on(store, config)};
  constexpr int accounts = 12;
  for (int i = 0; i < accounts; ++i) {
    REQUIRE(executors[0].execute_sync(bank::OpenAccount{id(i), "o"}).ok());
    REQUIRE(executors[0].execute_sync(bank::Deposit{id(i), money(500)}).ok());
  }
  std::atomic<int> ok{0}, rejected{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int n = 0; n < 50; ++n) {
        int from = (t * 7 + n * 3) % accounts, to = (from + 1 + n % (accounts - 1)) % accounts;
        auto r = executors[t % 2].execute_sync(bank::TransferMoney{id(from), id(to), money(50 + n % 200), ""});
        if (r.ok())
          ++ok;
        else if (r.error().code == CommandErrorCode::validation_failed)
          ++rejected;
        else
          ++other;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(other == 0);
  CHECK(ok + rejected == 200);
  CHECK(rejected > 0);  // the amounts are large enough to run accounts dry
  std::vector<bank::AccountId> ids;
  for (int i = 0; i < accounts; ++i) ids.push_back(id(i));
  // Never overdrawn, at any point of any account's history.
  CHECK(testing::audit_accounts(*store, ids).total == accounts * 500);
  for (auto& executor : executors) executor.shutdown();
}

TEST_CASE("a stream longer than the store's page limit is read to its end, and can be written again") {
  // The store clamps every page to 100 events: a page of 100 is not the end.
  auto store = std::make_shared<MemoryStore>(StoreLimits{.max_page_size = 100});
  {
    auto first = executor_on(store);
    REQUIRE(first.execute_sync(bank::OpenAccount{id(0), "o"}).ok());
    for (int i = 0; i < 299; ++i) REQUIRE(first.execute_sync(bank::Deposit{id(0), money(1)}).ok());
    first.shutdown();
  }
  RuntimeConfig config;
  config.read_page_size = 1000;  // asks for more than the store gives
  auto fresh = executor_on(store, config);  // a restart: nothing cached
  auto withdrawn = fresh.execute_sync(bank::Withdraw{id(0), money(299)});
  INFO((withdrawn.ok() ? std::string("ok") : to_string(withdrawn.error())));
  REQUIRE(withdrawn.ok());
  CHECK(withdrawn->attempts == 1);
  CHECK(withdrawn->stream_versions.at(0).version.value == 301);
  auto overdraft = fresh.execute_sync(bank::Withdraw{id(0), money(1)});
  REQUIRE_FALSE(overdraft.ok());
  CHECK(overdraft.error().code == CommandErrorCode::validation_failed);
  fresh.shutdown();
}

namespace {
// A MemoryStore that says it blocks (so that the executor uses I/O actors),
// counts which path each append took, and can hold one append back until
// the test lets it go.
class GatedStore final : public testing::ForwardingStore {
 public:
  std::atomic<int> direct{0}, batched{0};
  std::mutex mutex;
  std::condition_variable changed;
  std::optional<StreamId> hold;       // the next append() to this stream waits for `released`
  std::optional<StreamId> hold_read;  // the next read_stream() of this stream waits for `released`
  bool holding = false, released = false;
  std::thread::id last_read, last_append;  // the threads of the latest read_stream() and append()

  Result<AppendResult> append(const AppendRequest& request) override {
    ++direct;
    std::unique_lock lock(mutex);
    last_append = std::this_thread::get_id();
    wait_if_held(lock, hold, request.streams.front().stream);
    lock.unlock();
    return inner.append(request);
  }
  Result<StreamPage> read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                 StreamVersion to) override {
    std::unique_lock lock(mutex);
    last_read = std::this_thread::get_id();
    wait_if_held(lock, hold_read, stream);
    lock.unlock();
    return inner.read_stream(stream, from, max_count, to);
  }
  std::vector<Result<AppendResult>> append_batch(const std::vector<AppendRequest>& requests) override {
    batched += static_cast<int>(requests.size());
    std::vector<Result<AppendResult>> out;
    for (const auto& r : requests) out.push_back(inner.append(r));
    return out;
  }

 private:
  void wait_if_held(std::unique_lock<std::mutex>& lock, std::optional<StreamId>& held, const StreamId& stream) {
    if (!held || stream != *held) return;
    held.reset();
    holding = true;
    changed.notify_all();
    changed.wait_for(lock, 10s, [&] { return released; });
  }
};

// Waits until the store holds a call, then runs `meanwhile`, then lets the call go.
template <class F>
void while_held(GatedStore& store, F meanwhile) {
  {
    std::unique_lock lock(store.mutex);
    REQUIRE(store.changed.wait_for(lock, 10s, [&] { return store.holding; }));
  }
  meanwhile();
  {
    std::lock_guard lock(store.mutex);
    store.released = true;
  }
  store.changed.notify_all();
}
}  // namespace

TEST_CASE("a lone append is made in place, and while one is in flight the others go to the I/O actors, unblocked") {
  auto store = std::make_shared<GatedStore>();
  auto executor = executor_on(store);
  // One at a time: each append is alone, so none crosses to an I/O actor.
  REQUIRE(executor.execute_sync(bank::OpenAccount{id(1), "one"}).ok());
  REQUIRE(executor.execute_sync(bank::OpenAccount{id(2), "two"}).ok());
  // A rejected transfer (no funds) still appends: its version check confirms what it saw.
  const auto rejected = executor.execute_sync(bank::TransferMoney{id(1), id(2), money(5), "r"});
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.error().code == CommandErrorCode::validation_failed);
  CHECK(store->direct == 3);
  CHECK(store->batched == 0);

  // Hold a deposit's append in place; a transfer meanwhile goes to an I/O
  // actor and finishes although the first one has not.
  {
    std::lock_guard lock(store->mutex);
    store->hold = id(1).stream();
  }
  std::thread held([&] { CHECK(executor.execute_sync(bank::Deposit{id(1), money(100)}).ok()); });
  while_held(*store, [&] {
    REQUIRE(executor.execute_sync(bank::Deposit{id(2), money(7)}).ok());
    CHECK(store->batched == 1);
  });
  held.join();

  // Nothing left in flight: the next append is in place again.
  const int direct_before = store->direct;
  REQUIRE(executor.execute_sync(bank::Deposit{id(2), money(1)}).ok());
  CHECK(store->direct == direct_before + 1);
  CHECK(store->batched == 1);
}

TEST_CASE("a stream's lone load is made in place too, and while a store call is in flight a load goes to an I/O actor, "
          "unblocked") {
  auto store = std::make_shared<GatedStore>();
  auto executor = executor_on(store);
  // A new stream's first command: its actor reads the stream, then appends,
  // on one thread (an I/O actor would read on its own).
  REQUIRE(executor.execute_sync(bank::OpenAccount{id(1), "one"}).ok());
  {
    std::lock_guard lock(store->mutex);
    CHECK(store->last_read == store->last_append);
    store->hold_read = id(2).stream();
  }
  // Hold one stream's load in place; another stream's load and append go to
  // the I/O actors meanwhile and finish although the first has not.
  std::thread held([&] { CHECK(executor.execute_sync(bank::OpenAccount{id(2), "two"}).ok()); });
  while_held(*store, [&] {
    REQUIRE(executor.execute_sync(bank::OpenAccount{id(3), "three"}).ok());
    CHECK(store->batched == 1);
  });
  held.join();
  CHECK(store->direct == 2);
}

TEST_CASE("with direct_store_calls_when_idle off every append of a blocking store goes through an I/O actor") {
  auto store = std::make_shared<GatedStore>();
  RuntimeConfig config;
  config.direct_store_calls_when_idle = false;
  auto executor = executor_on(store, config);
  REQUIRE(executor.execute_sync(bank::OpenAccount{id(1), "one"}).ok());
  REQUIRE(executor.execute_sync(bank::Deposit{id(1), money(5)}).ok());
  CHECK(store->direct == 0);
  CHECK(store->batched == 2);
}
