// ApproveOrder on a real PostgreSQL: three kinds of streams (order, approver,
// discovered inventories) checked and written in one transaction, and two
// runtimes racing for the last unit of stock.

#include <future>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/orders/orders.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"

using namespace eventcore;
using namespace eventcore::orders;

namespace {
std::shared_ptr<EventStore> open_store(const testing::ScopedSchema& schema) {
  PostgresStoreConfig config;
  config.conninfo = testing::test_database_url();
  config.schema = schema.name();
  auto opened = PostgresStore::open(config);
  REQUIRE(opened.ok());
  return std::move(*opened);
}

StreamVersion version_of(EventStore& store, const StreamId& stream) { return store.stream_version(stream).value(); }
}  // namespace

TEST_CASE("on PostgreSQL, ApproveOrder writes order and discovered inventories atomically and checks the approver") {
  EVENTCORE_REQUIRE_POSTGRES();
  testing::ScopedSchema schema("orders");
  auto store = open_store(schema);
  auto executor = CommandExecutor::builder().with_store(store).build().value();
  REQUIRE(executor.execute_sync(RegisterApprover{"ann", 10'000}).ok());
  REQUIRE(executor.execute_sync(AddStock{"apple", 3}).ok());
  REQUIRE(executor.execute_sync(PlaceOrder{"o1", {{"apple", 2, 100}, {"pear", 1, 100}}}).ok());

  auto no_pears = executor.execute_sync(ApproveOrder{"o1", "ann"});
  REQUIRE_FALSE(no_pears.ok());
  CHECK(no_pears.error().code == CommandErrorCode::validation_failed);
  CHECK(version_of(*store, order_stream("o1")).value == 1);  // the rejection wrote nothing
  CHECK(version_of(*store, inventory_stream("apple")).value == 1);

  REQUIRE(executor.execute_sync(AddStock{"pear", 1}).ok());
  const auto approver_before = version_of(*store, approver_stream("ann"));
  auto approved = executor.execute_sync(ApproveOrder{"o1", "ann"});
  REQUIRE(approved.ok());
  CHECK(approved->events_written == 3);
  CHECK(version_of(*store, order_stream("o1")).value == 2);
  CHECK(version_of(*store, inventory_stream("apple")).value == 2);
  CHECK(version_of(*store, inventory_stream("pear")).value == 2);
  CHECK(version_of(*store, approver_stream("ann")) == approver_before);  // read-only participant

  // The three events of the approval share one transaction in the global log.
  auto tail = store->read_stream(order_stream("o1"), StreamVersion{2}, 10);
  REQUIRE(tail.ok());
  REQUIRE(tail->size() == 1);
  const auto transaction = tail->front().position.transaction;
  for (const char* sku : {"apple", "pear"}) {
    auto reserved = store->read_stream(inventory_stream(sku), StreamVersion{2}, 10);
    REQUIRE(reserved.ok());
    REQUIRE(reserved->size() == 1);
    CHECK(reserved->front().position.transaction == transaction);
  }
  executor.shutdown();
}

TEST_CASE("on PostgreSQL, two runtimes approving orders for the last unit of stock: exactly one wins") {
  EVENTCORE_REQUIRE_POSTGRES();
  testing::ScopedSchema schema("orders_race");
  auto setup_store = open_store(schema);
  {
    auto setup = CommandExecutor::builder().with_store(setup_store).build().value();
    REQUIRE(setup.execute_sync(RegisterApprover{"ann", 10'000}).ok());
    REQUIRE(setup.execute_sync(AddStock{"apple", 1}).ok());
    REQUIRE(setup.execute_sync(PlaceOrder{"a", {{"apple", 1, 100}}}).ok());
    REQUIRE(setup.execute_sync(PlaceOrder{"b", {{"apple", 1, 100}}}).ok());
    setup.shutdown();
  }
  // Two runtimes with their own stores and caches, as two processes would
  // have: only PostgreSQL's version check stands between them.
  auto store_a = open_store(schema);
  auto store_b = open_store(schema);
  auto exec_a = CommandExecutor::builder().with_store(store_a).build().value();
  auto exec_b = CommandExecutor::builder().with_store(store_b).build().value();
  // Both load the inventory before either approves, so one of them commits on a stale version.
  REQUIRE(version_of(*store_a, inventory_stream("apple")).value == 1);
  auto a = std::async(std::launch::async, [&] { return exec_a.execute_sync(ApproveOrder{"a", "ann"}); });
  auto b = std::async(std::launch::async, [&] { return exec_b.execute_sync(ApproveOrder{"b", "ann"}); });
  auto result_a = a.get();
  auto result_b = b.get();
  CHECK(result_a.ok() != result_b.ok());  // exactly one approval
  const auto& loser = result_a.ok() ? result_b : result_a;
  if (!loser.ok()) {
    CHECK(loser.error().code == CommandErrorCode::validation_failed);
    CHECK_THAT(loser.error().message, Catch::Contains("not enough apple"));
  }
  // Stock: one added, one reserved.
  CHECK(version_of(*setup_store, inventory_stream("apple")).value == 2);
  exec_a.shutdown();
  exec_b.shutdown();
}
