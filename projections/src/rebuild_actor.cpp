// A rebuild: folds a fresh read model (new tables generation, or a new
// instance) from a position, one page per run message (memory bounded by the
// page size), reporting progress; once a read returns less than a page it
// hands the model to the live projection actor, which catches it up and
// switches. The live projection runs undisturbed meanwhile.

#include <caf/all.hpp>

#include "actors.hpp"

namespace eventcore::projections::detail {
namespace {

using namespace std::chrono;

struct RebuildState {
  static inline const char* name = "eventcore.rebuild";
  std::shared_ptr<Engine> engine;
  caf::actor live;
  std::shared_ptr<ProgressCell> progress;
  ActorTimings timings;
  std::shared_ptr<Clock> clock;
  steady_clock::time_point started{};
  steady_clock::time_point last_head{};
  GlobalPosition head;
};
using RebuildActor = caf::stateful_actor<RebuildState>;

void report(RebuildActor* self, bool force_head) {
  auto& st = self->state;
  const auto now = st.clock->now();
  if (force_head || now - st.last_head >= seconds(1)) {
    st.head = st.engine->status().head;  // one indexed query, at most once a second
    st.last_head = now;
  }
  const double elapsed = duration<double>(now - st.started).count();
  std::lock_guard lock(st.progress->mutex);
  auto& p = st.progress->progress;
  p.events_done = st.engine->applied();
  p.events_per_s = elapsed > 0 ? static_cast<double>(p.events_done) / elapsed : 0;
  p.position = st.engine->position();
  p.head = st.head;
}

void finish(RebuildActor* self, const std::string& error) {
  auto& st = self->state;
  {
    std::lock_guard lock(st.progress->mutex);
    st.progress->progress.active = false;
    st.progress->progress.finished = error.empty();
    st.progress->progress.error = error;
  }
  self->quit();
}

caf::behavior rebuild_actor(RebuildActor* self, std::shared_ptr<Engine> engine, caf::actor live,
                            std::shared_ptr<ProgressCell> progress, ActorTimings timings,
                            std::shared_ptr<Clock> clock) {
  auto& st = self->state;
  st.engine = std::move(engine);
  st.live = std::move(live);
  st.progress = std::move(progress);
  st.timings = timings;
  st.clock = std::move(clock);
  st.started = st.clock->now();
  self->send(self, run_atom::value);
  return {
      [=](run_atom) {
        auto& st = self->state;
        const auto outcome = st.engine->step();
        switch (outcome) {
          case Engine::Outcome::more:
            report(self, false);
            self->send(self, run_atom::value);
            break;
          case Engine::Outcome::caught_up: {
            report(self, true);
            auto handover = std::make_shared<Handover>();
            handover->generation = st.engine->generation();
            handover->position = st.engine->position();
            handover->instance = st.engine->memory_instance();
            handover->progress = st.progress;
            // The live actor marks the rebuild finished once it has switched.
            self->send(st.live, adopt_atom::value, HandoverPtr(std::move(handover)));
            self->quit();
            break;
          }
          case Engine::Outcome::standby:
          case Engine::Outcome::transient:
            self->delayed_send(self, st.timings.retry_interval, run_atom::value);
            break;
          case Engine::Outcome::stopped:
            finish(self, st.engine->last_error());
            break;
        }
      },
  };
}

}  // namespace

caf::actor spawn_rebuild_actor(caf::actor_system& system, std::unique_ptr<Engine> engine, caf::actor live,
                               std::shared_ptr<ProgressCell> progress, ActorTimings timings,
                               std::shared_ptr<Clock> clock) {
  if (timings.cooperative)
    return system.spawn(rebuild_actor, std::shared_ptr<Engine>(std::move(engine)), std::move(live), std::move(progress),
                        timings, std::move(clock));
  return system.spawn<caf::detached>(rebuild_actor, std::shared_ptr<Engine>(std::move(engine)), std::move(live),
                                     std::move(progress), timings, std::move(clock));
}

}  // namespace eventcore::projections::detail
