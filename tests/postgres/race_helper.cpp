// race_helper URL SCHEMA APPENDS SEED: one of the processes of the
// multi-process race test. Opens the store (migrating the schema, possibly
// at the same time as the other process), makes APPENDS successful racing
// appends, and prints "ack <event id>" for every acknowledged event.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "eventcore/store/postgres_store.hpp"
#include "racing_appender.hpp"

int main(int argc, char** argv) {
  using namespace eventcore;
  if (argc != 5) {
    std::fprintf(stderr, "usage: race_helper URL SCHEMA APPENDS SEED\n");
    return 2;
  }
  PostgresStoreConfig config;
  config.conninfo = argv[1];
  config.schema = argv[2];
  config.pool_size = 4;
  auto store = PostgresStore::open(config);
  if (!store) {
    std::printf("error: %s\n", to_string(store.error()).c_str());
    return 1;
  }
  const std::vector<StreamId> streams{StreamId::try_new("race-a").value(),
                                      StreamId::try_new("race-b").value(),
                                      StreamId::try_new("race-c").value()};
  auto outcome = testing::race_appends(**store, streams, std::atoi(argv[3]),
                                       static_cast<unsigned>(std::atoi(argv[4])));
  for (const auto& id : outcome.acknowledged) std::printf("ack %s\n", id.str().c_str());
  if (!outcome.error.empty()) {
    std::printf("error: %s\n", outcome.error.c_str());
    return 1;
  }
  return 0;
}
