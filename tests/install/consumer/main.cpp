// A counter domain written against the installed headers only: a command
// through the executor, one through the remote library's registry (its wire
// form) and a published gateway, and a projection that waits for them, on
// MemoryStore.

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <cstdio>
#include <variant>

#include <eventcore/actors/command_executor.hpp>
#include <eventcore/actors/remote.hpp>
#include <eventcore/projections/projection.hpp>
#include <eventcore/store/memory_store.hpp>

using namespace eventcore;

namespace {

struct Incremented {
  static constexpr std::string_view event_type = "Incremented";
  int by = 0;
  template <class A> void serialize(A& a) { a(by); }
};
using Event = std::variant<Incremented>;

struct Counter {
  int value = 0;
  void apply(const Event& e) { value += std::get<Incremented>(e).by; }
};

struct Increment {
  using Event = ::Event;
  using State = PerStream<Counter>;
  StreamId counter;
  int by = 1;
  std::vector<StreamId> streams() const { return {counter}; }
  Decision<Event> handle(const State& state) const {
    if (state[counter].value + by > 10) return reject("the counter stops at 10", "full");
    return {{counter, Incremented{by}}};
  }
  template <class A> void save(A& a) const { a(counter.str(), by); }
  template <class A> static void load_and_construct(A& a, cereal::construct<Increment>& construct) {
    std::string id;
    int by = 0;
    a(id, by);
    construct(StreamId::try_new(id).value(), by);
  }
};

struct Total : projections::TypedProjection<Event> {
  std::atomic<int> total{0};
  void apply_event(const Event& e, const StoredEvent&) override { total += std::get<Incremented>(e).by; }
};

}  // namespace

int main() {
  caf::actor_system_config config;
  caf::actor_system system{config};
  auto store = std::make_shared<MemoryStore>();
  auto executor = CommandExecutor::builder().with_system(system).with_store(store).build();
  if (!executor) return std::fprintf(stderr, "executor: %s\n", to_string(executor.error()).c_str()), 1;
  auto runtime = projections::ProjectionRuntime::start(system, store);
  if (!runtime) return std::fprintf(stderr, "projections: %s\n", to_string(runtime.error()).c_str()), 1;
  if (!(*runtime)->add({.name = "total"}, [] { return std::make_unique<Total>(); }))
    return std::fprintf(stderr, "add failed\n"), 1;

  const auto counter = StreamId::try_new("counter-1").value();
  GlobalPosition last;
  for (int i = 0; i < 3; ++i) {
    auto done = executor->execute_sync(Increment{counter, 3});
    if (!done) return std::fprintf(stderr, "increment: %s\n", to_string(done.error()).c_str()), 1;
    last = done->positions.back();
  }
  // The wire form of a command, as a gateway receives it.
  CommandRegistry registry;
  registry.add<Increment>("consumer.Increment");
  auto job = registry.decode(registry.encode(Increment{counter, 1}).value(), {});
  if (!job) return std::fprintf(stderr, "decode: %s\n", to_string(job.error()).c_str()), 1;
  auto wired = executor->run(*job);
  if (!wired) return std::fprintf(stderr, "wired increment: %s\n", to_string(wired.error()).c_str()), 1;
  last = wired->positions.back();
  auto gateway = CommandGateway::publish(*executor, registry, {});
  if (!gateway || gateway->port() == 0) return std::fprintf(stderr, "the gateway did not publish\n"), 1;
  gateway->close();
  auto refused = executor->execute_sync(Increment{counter, 3});
  if (refused || refused.error().reason != "full") return std::fprintf(stderr, "the fourth increment was not refused\n"), 1;
  if (!(*runtime)->wait_until_caught_up("total", last, std::chrono::seconds(10)))
    return std::fprintf(stderr, "the projection did not catch up\n"), 1;
  const int total = std::dynamic_pointer_cast<Total>((*runtime)->instance("total"))->total;
  (*runtime)->stop();
  executor->shutdown();
  std::printf("consumer ok: total %d, version %llu\n", total,
              static_cast<unsigned long long>(store->stream_version(counter).value().value));
  return total == 10 ? 0 : 1;
}
