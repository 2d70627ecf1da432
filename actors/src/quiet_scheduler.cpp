// CAF's own schedulers, instantiated without a logging call that costs
// about 1,700 instructions every time a worker resumes an actor.
//
// CAF 0.17's worker loop (caf/scheduler/worker.hpp) runs
//   CAF_PUSH_AID_FROM_PTR(dynamic_cast<abstract_actor*>(job));
// before each resume, to tag log lines with the actor's id. The macro is
// defined whatever the log level: with Debian's build (CAF_LOG_LEVEL_QUIET,
// no log line is ever written) every resume still pays a cross-cast through
// the actor's deep class hierarchy (about 1,340 instructions) and two calls
// of logger::thread_local_aid. Callgrind counted 5 resumes per in-memory
// transfer: the worker threads ran 12% fewer instructions per transfer
// without them (docs/PERFORMANCE.md, "The worker loop's logging tag").
//
// This file instantiates CAF's coordinator and worker templates for policy
// types of its own (so no instantiation of CAF's library is redefined), with
// that macro defined to nothing. It must see caf/logger.hpp first and
// caf/scheduler/worker.hpp after the redefinition: keep these includes first.
#include <caf/logger.hpp>
#undef CAF_PUSH_AID_FROM_PTR
#define CAF_PUSH_AID_FROM_PTR(ptr) static_cast<void>(0)
#include <caf/scheduler/coordinator.hpp>

#include "quiet_scheduler.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/defaults.hpp>
#include <caf/policy/profiled.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/profiled_coordinator.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/settings.hpp>

namespace eventcore::detail {

namespace {
struct QuietStealing : caf::policy::work_stealing {};
struct QuietSharing : caf::policy::work_sharing {};
}  // namespace

// What CAF's actor_system would pick from "scheduler.policy" and
// "scheduler.enable-profiling".
caf::actor_system::module* make_scheduler(caf::actor_system& system) {
  using namespace caf::scheduler;
  const auto& config = system.config();
  const auto policy = caf::get_or(config, "scheduler.policy", caf::defaults::scheduler::policy);
  if (policy == caf::atom("testing")) return new test_coordinator(system);
  const bool sharing = policy == caf::atom("sharing");
  if (caf::get_or(config, "scheduler.enable-profiling", false)) {
    if (sharing) return new profiled_coordinator<caf::policy::profiled<QuietSharing>>(system);
    return new profiled_coordinator<caf::policy::profiled<QuietStealing>>(system);
  }
  if (sharing) return new coordinator<QuietSharing>(system);
  return new coordinator<QuietStealing>(system);
}

}  // namespace eventcore::detail
