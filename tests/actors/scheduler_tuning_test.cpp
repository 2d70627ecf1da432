// configure_scheduler: CAF's scheduler, as the config asks for it.

#include <chrono>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <catch2/catch.hpp>

#include "eventcore/actors/scheduler_tuning.hpp"

namespace {

// (An argument of its own: CAF 0.17 binds a null pointer to a reference when
// it spawns a function actor without one, which UBSan reports.)
caf::behavior multiplier(caf::event_based_actor*, int factor) {
  return {[=](int x) { return factor * x; }};
}

// Asks an actor of `system` to double 21, within a second.
int ask(caf::actor_system& system) {
  caf::scoped_actor self{system};
  int answer = 0;
  self->request(system.spawn(multiplier, 2), std::chrono::seconds(1), 21)
      .receive([&](int x) { answer = x; }, [&](caf::error& e) { FAIL(system.render(e)); });
  return answer;
}

}  // namespace

TEST_CASE("configure_scheduler starts the workers it is asked for, and actors run on them") {
  for (const auto* policy : {"stealing", "sharing"}) {
    INFO(policy);
    caf::actor_system_config cfg;
    cfg.set("scheduler.policy", caf::atom_from_string(policy));
    eventcore::configure_scheduler(cfg, 3);
    caf::actor_system system{cfg};
    CHECK(system.scheduler().num_workers() == 3);
    CHECK(dynamic_cast<caf::scheduler::test_coordinator*>(&system.scheduler()) == nullptr);
    CHECK(ask(system) == 42);
  }
}

TEST_CASE("configure_scheduler keeps the deterministic test scheduler, set before or after it") {
  for (bool policy_first : {true, false}) {
    INFO((policy_first ? "policy set first" : "policy set after"));
    caf::actor_system_config cfg;
    if (policy_first) cfg.set("scheduler.policy", caf::atom("testing"));
    eventcore::configure_scheduler(cfg);
    if (!policy_first) cfg.set("scheduler.policy", caf::atom("testing"));
    caf::actor_system system{cfg};
    CHECK(dynamic_cast<caf::scheduler::test_coordinator*>(&system.scheduler()) != nullptr);
  }
}
