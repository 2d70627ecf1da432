// Two OS processes, each with its own runtime, hammer the same 20 accounts
// in one PostgreSQL schema: the store's version check is the only thing
// they share.

#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/bank/commands.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"
#include "support/bank_audit.hpp"

using namespace eventcore;

TEST_CASE("two processes transferring among 20 accounts conserve money and write each acknowledged command once") {
  EVENTCORE_REQUIRE_POSTGRES();
  testing::ScopedSchema schema("bank2p");
  PostgresStoreConfig config;
  config.conninfo = testing::test_database_url();
  config.schema = schema.name();
  auto opened = PostgresStore::open(config);
  REQUIRE(opened.ok());
  std::shared_ptr<EventStore> store = std::move(*opened);
  constexpr int accounts = 20, per_process = 150;
  {
    auto executor = CommandExecutor::builder().with_store(store).build().value();
    for (int i = 0; i < accounts; ++i) {
      auto id = bank::AccountId::try_new("acc" + std::to_string(i)).value();
      REQUIRE(executor.execute_sync(bank::OpenAccount{id, "owner"}).ok());
      REQUIRE(executor.execute_sync(bank::Deposit{id, bank::Money::try_new(1000).value()}).ok());
    }
    executor.shutdown();
  }

  const std::string hammer = std::string(BANK_HAMMER_PATH) + " '" + config.conninfo + "' " + schema.name();
  // Both processes start together; each prints one line per command.
  FILE* a = popen((hammer + " 1 " + std::to_string(per_process) + " " + std::to_string(accounts)).c_str(), "r");
  FILE* b = popen((hammer + " 2 " + std::to_string(per_process) + " " + std::to_string(accounts)).c_str(), "r");
  REQUIRE((a && b));
  std::string out;
  char buf[4096];
  for (FILE* p : {a, b}) {
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    CHECK(pclose(p) == 0);
  }

  std::map<std::string, std::string> outcome;  // reference -> ok / rejected / error
  std::size_t retried = 0;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string kind, reference;
    std::size_t attempts = 1;
    words >> kind >> reference >> attempts;
    INFO(line);
    CHECK(kind != "error");
    outcome[reference] = kind;
    if (kind == "ok" && attempts > 1) ++retried;
  }
  CHECK(outcome.size() == 2 * per_process);
  WARN("acknowledged commands that needed a retry: " << retried);

  std::vector<bank::AccountId> ids;
  for (int i = 0; i < accounts; ++i) ids.push_back(bank::AccountId::try_new("acc" + std::to_string(i)).value());
  auto audit = testing::audit_accounts(*store, ids);
  CHECK(audit.total == accounts * 1000);
  for (const auto& [reference, kind] : outcome) {
    INFO(reference << " " << kind);
    if (kind == "ok") CHECK(audit.events_per_reference[reference] == 2);  // withdrawal + deposit, exactly once
    if (kind == "rejected") CHECK(audit.events_per_reference[reference] == 0);
  }
}
