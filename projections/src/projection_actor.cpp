// One projection: drives its Engine one page per run message, so status
// requests and exits are handled between pages. Wakes that arrive while a
// run is pending are merged into it. Detached (the Engine blocks on the store
// and libpq) unless the runtime is cooperative.

#include <algorithm>
#include <caf/all.hpp>

#include "actors.hpp"

namespace eventcore::projections::detail {
namespace {

struct ProjectionActorState {
  static inline const char* name = "eventcore.projection";
  std::shared_ptr<Engine> engine;
  ActorTimings timings;
  bool run_pending = false;
  std::chrono::milliseconds retry_delay{0};
};
using ProjectionActor = caf::stateful_actor<ProjectionActorState>;

void schedule(ProjectionActor* self) {
  if (self->state.run_pending) return;
  self->state.run_pending = true;
  self->send(self, run_atom::value);
}

void after_outcome(ProjectionActor* self, Engine::Outcome outcome) {
  auto& st = self->state;
  switch (outcome) {
    case Engine::Outcome::more:
      st.retry_delay = std::chrono::milliseconds(0);
      schedule(self);
      break;
    case Engine::Outcome::caught_up:
      st.retry_delay = std::chrono::milliseconds(0);
      break;  // until the next wake
    case Engine::Outcome::standby:
      self->delayed_send(self, st.timings.standby_interval, run_atom::value);
      break;
    case Engine::Outcome::transient:
      st.retry_delay = std::clamp(st.retry_delay * 2, st.timings.retry_interval, std::chrono::milliseconds(2000));
      self->delayed_send(self, st.retry_delay, run_atom::value);
      break;
    case Engine::Outcome::stopped:
      break;  // stays stopped; status says why
  }
}

caf::behavior projection_actor(ProjectionActor* self, std::shared_ptr<Engine> engine_holder, ActorTimings timings) {
  self->state.engine = std::move(engine_holder);  // owned by this actor alone
  self->state.timings = timings;
  self->set_exit_handler([=](const caf::exit_msg& msg) {
    self->state.engine->mark_stopped();
    self->quit(msg.reason);
  });
  schedule(self);
  return {
      [=](wake_atom) { schedule(self); },
      [=](run_atom) {
        self->state.run_pending = false;
        after_outcome(self, self->state.engine->step());
      },
      [=](status_atom) { return self->state.engine->status(); },
      [=](generation_atom) { return self->state.engine->generation(); },
      [=](adopt_atom, const HandoverPtr& handover) {
        const auto outcome = self->state.engine->adopt(*handover);
        if (outcome == Engine::Outcome::transient)
          self->delayed_send(self, self->state.timings.retry_interval, adopt_atom::value, handover);
        else
          schedule(self);
      },
  };
}

}  // namespace

caf::actor spawn_projection_actor(caf::actor_system& system, std::unique_ptr<Engine> engine, ActorTimings timings) {
  if (timings.cooperative) return system.spawn(projection_actor, std::shared_ptr<Engine>(std::move(engine)), timings);
  return system.spawn<caf::detached>(projection_actor, std::shared_ptr<Engine>(std::move(engine)), timings);
}

}  // namespace eventcore::projections::detail
