// The production shape: real threads, detached store I/O actors, blocking
// execute_sync from several plain threads at once.

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/bank/commands.hpp"
#include "eventcore/store/memory_store.hpp"

using namespace eventcore;
using namespace std::chrono_literals;

TEST_CASE("transfers from several threads through detached io actors conserve money") {
  auto store = std::make_shared<MemoryStore>();
  RuntimeConfig config;
  config.io_actors = 2;
  config.max_live_streams = 8;  // fewer than the accounts: passivation under load
  auto executor = CommandExecutor::builder()
                      .with_store(store)
                      .with_retry_policy(RetryPolicy::exponential(1ms, 2.0, 20ms, 10))
                      .with_config(config)
                      .build()
                      .value();
  auto id = [](int i) { return bank::AccountId::try_new("t" + std::to_string(i)).value(); };
  auto money = [](std::int64_t c) { return bank::Money::try_new(c).value(); };
  constexpr int accounts = 12;
  for (int i = 0; i < accounts; ++i) {
    REQUIRE(executor.execute_sync(bank::OpenAccount{id(i), "o"}).ok());
    REQUIRE(executor.execute_sync(bank::Deposit{id(i), money(500)}).ok());
  }
  std::atomic<int> ok{0}, rejected{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int n = 0; n < 50; ++n) {
        int from = (t * 7 + n * 3) % accounts, to = (from + 1 + n % (accounts - 1)) % accounts;
        auto r = executor.execute_sync(bank::TransferMoney{id(from), id(to), money(50 + n % 200), ""});
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
  std::int64_t total = 0;
  for (int i = 0; i < accounts; ++i) {
    auto events = store->read_stream(id(i).stream(), StreamVersion{1}, 100000);
    REQUIRE(events.ok());
    for (const auto& e : *events) {
      auto ev = EventCodec<bank::Event>::decode(e);
      REQUIRE(ev.ok());
      if (auto* d = std::get_if<bank::MoneyDeposited>(&*ev)) total += d->cents;
      if (auto* w = std::get_if<bank::MoneyWithdrawn>(&*ev)) total -= w->cents;
    }
  }
  CHECK(total == accounts * 500);
  executor.shutdown();
}
