// Appends events to two streams through the EventStore interface, in one
// atomic append, then reads them back: the smallest tour of the store.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <variant>

#include <CLI/CLI.hpp>

#include "eventcore/store/event_codec.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"

namespace {

struct ItemAdded {
  static constexpr std::string_view event_type = "ItemAdded";
  std::string sku;
  std::int64_t quantity = 0;
  template <class Archive> void serialize(Archive& ar) { ar(sku, quantity); }
};

struct StockReserved {
  static constexpr std::string_view event_type = "StockReserved";
  std::string cart;
  std::int64_t quantity = 0;
  template <class Archive> void serialize(Archive& ar) { ar(cart, quantity); }
};

using DemoEvent = std::variant<ItemAdded, StockReserved>;
using Codec = eventcore::EventCodec<DemoEvent>;

std::string describe(const DemoEvent& event) {
  return std::visit(
      [](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ItemAdded>)
          return "ItemAdded{sku=" + e.sku + ", quantity=" + std::to_string(e.quantity) + "}";
        else
          return "StockReserved{cart=" + e.cart + ", quantity=" + std::to_string(e.quantity) + "}";
      },
      event);
}

eventcore::StreamId stream(const std::string& name) { return eventcore::StreamId::try_new(name).value(); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"EventCore store demo: one atomic append across two streams, then read back"};
  std::string store_kind = "postgres";
  std::string url = std::getenv("EVENTCORE_DATABASE_URL") ? std::getenv("EVENTCORE_DATABASE_URL") : "";
  app.add_option("--store", store_kind, "memory or postgres")->check(CLI::IsMember({"memory", "postgres"}));
  app.add_option("--database-url", url, "libpq connection string (default: $EVENTCORE_DATABASE_URL)");
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<eventcore::EventStore> store;
  if (store_kind == "memory") {
    store = std::make_unique<eventcore::MemoryStore>();
  } else {
    auto opened = eventcore::PostgresStore::open({.conninfo = url, .schema = "eventcore_demo"});
    if (!opened) {
      std::cerr << "cannot open the store: " << to_string(opened.error()) << "\n";
      return 1;
    }
    store = std::move(opened).value();
  }

  // A cart and the stock it reserves change together or not at all.
  const std::string run = eventcore::EventId::generate().str().substr(24);
  const auto cart = stream("cart-" + run);
  const auto stock = stream("stock-sku-42-" + run);
  auto appended = store->append({{
      {cart, eventcore::ExpectedVersion::no_stream(), {Codec::encode(ItemAdded{"sku-42", 2})}},
      {stock, eventcore::ExpectedVersion::no_stream(), {Codec::encode(StockReserved{cart.str(), 2})}},
  }});
  if (!appended) {
    std::cerr << "append failed: " << to_string(appended.error()) << "\n";
    return 1;
  }
  std::cout << "appended to " << cart.str() << " (now version " << appended->streams[0].version.value
            << ") and " << stock.str() << " (now version " << appended->streams[1].version.value
            << ") in one transaction\n";

  // The same expected version again is a conflict, and writes nothing.
  auto again = store->append({{{cart, eventcore::ExpectedVersion::no_stream(),
                                {Codec::encode(ItemAdded{"sku-7", 1})}}}});
  std::cout << "second append expecting no stream: " << (again ? "ok?!" : to_string(again.error())) << "\n";

  auto page = store->read_all(eventcore::GlobalPosition{}, 1000, {.stream_prefix = "cart-" + run});
  auto stock_events = store->read_stream(stock, eventcore::StreamVersion{1}, 100);
  if (!page || !stock_events) {
    std::cerr << "read failed\n";
    return 1;
  }
  for (const auto* events : {&page->events, &stock_events->events})
    for (const auto& stored : *events) {
      auto event = Codec::decode(stored);
      std::cout << "  " << to_string(stored.position) << "  " << stored.stream.str() << " v"
                << stored.version.value << "  "
                << (event ? describe(*event) : to_string(event.error())) << "\n";
    }
  return 0;
}
