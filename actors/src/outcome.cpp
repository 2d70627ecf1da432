#include "eventcore/actors/detail/outcome.hpp"

#include "eventcore/actors/logging.hpp"

namespace eventcore::detail {

JobDecision decide(const CommandJob& job, std::span<const StreamSnapshot> snapshots, const MonotonicClock& clock,
                   std::chrono::steady_clock::time_point started) {
  auto threw = [](std::string what) {
    JobDecision out;
    out.kind = JobDecision::Kind::threw;
    out.message = std::move(what);
    return out;
  };
  JobDecision out;
  try {
    out = job.decide(snapshots, clock, started);
  } catch (const std::exception& e) {
    out = threw(e.what());
  } catch (...) {
    out = threw("an exception that is not a std::exception");
  }
  if (out.decided_at == std::chrono::steady_clock::time_point{}) out.decided_at = clock();  // handle never ran
  return out;
}

CommandError threw_error(const CommandJob& job, const JobDecision& decision, std::size_t attempts) {
  return CommandError{CommandErrorCode::invalid_command, job.name, job.streams,
                      "handle or the State's apply threw: " + decision.message, std::nullopt, attempts};
}

void observe_outcome(RuntimeContext& context, const CommandJob& job, const ExecuteResult& outcome,
                     const PhaseTimings& timings_so_far) {
  const PhaseTimings& timings = outcome.ok() ? outcome.value().timings : timings_so_far;
  const std::string_view name =
      outcome.ok() ? std::string_view(outcome.value().replayed ? "replayed" : "ok") : to_string(outcome.error().code);
  const std::size_t events = outcome.ok() && !outcome.value().replayed ? outcome.value().events_written : 0;
  context.metrics->record_command(job.name, name, timings, events);
  const bool routine = outcome.ok() || outcome.error().code == CommandErrorCode::validation_failed;
  const LogLevel level = routine ? LogLevel::debug : LogLevel::info;
  if (!log_enabled(level)) return;
  log_command(level, {job.name, name, outcome.ok() ? outcome.value().attempts : outcome.error().attempts, events,
                      timings.prepare, timings.reconstruct, timings.handle, timings.write, timings.total,
                      outcome.ok() ? std::string_view() : outcome.error().message});
}

}  // namespace eventcore::detail
