#include "eventcore/actors/scheduler_tuning.hpp"

#include <algorithm>
#include <thread>

#include <caf/actor_system_config.hpp>

#include "quiet_scheduler.hpp"

namespace eventcore {

void configure_scheduler(caf::actor_system_config& config, std::size_t threads) {
  if (threads == 0) threads = std::max<std::size_t>(2, std::thread::hardware_concurrency());
  config.set("scheduler.max-threads", threads);
  // A few polls (one of them a steal attempt) catch a message that is
  // already on its way; after them the worker blocks on its condition
  // variable, which an enqueue to its queue signals. CAF's relaxed wait
  // (10 ms, then a steal attempt) stays as it is: a shorter one would wake
  // every idle worker of an idle service a thousand times a second.
  config.set("work-stealing.aggressive-poll-attempts", std::size_t{10});
  config.set("work-stealing.moderate-poll-attempts", std::size_t{0});
  // CAF's scheduler for the config's policy, without a logging tag that
  // costs every resume about 1,700 instructions (quiet_scheduler.cpp).
  config.module_factories.push_back(&detail::make_scheduler);
}

}  // namespace eventcore
