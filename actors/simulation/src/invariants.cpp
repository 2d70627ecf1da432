// The generic invariants, checked after every run (faults off):
//   versions contiguous       every stream is 1, 2, 3... in global order, and read_stream agrees with read_all
//   no event written twice    every event id once; every command's events in at most one transaction
//   no acknowledged loss      an acknowledged command's events are in the log where its result said
//   failures write nothing    a command rejected or failed for good wrote nothing
//   serializable              an acknowledged command's declared streams (read-only ones too) were at the
//                             versions it decided on when its append committed
//   no in-process conflict    every conflict the store reported was caused by a foreign writer (runs
//                             without crashes: a killed actor can legitimately leave a write in flight)
//   projection = fold         (check_projection)

#include "invariants.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace eventcore::simulation::detail {

void attribute_log(const std::vector<StoredEvent>& log, std::vector<CommandRecord>& commands) {
  for (auto& record : commands) {
    record.transactions.clear();
    record.events_in_log = 0;
  }
  for (const auto& event : log) {
    auto id = RunView::command_of(event);
    if (!id || *id >= commands.size()) continue;
    auto& record = commands[*id];
    ++record.events_in_log;
    if (std::find(record.transactions.begin(), record.transactions.end(), event.position.transaction) ==
        record.transactions.end())
      record.transactions.push_back(event.position.transaction);
  }
}

namespace {
std::string label(const CommandRecord& r) { return "command #" + std::to_string(r.id) + " (" + r.description + ")"; }
}  // namespace

void check_generic(const RunView& run, SimulatedStore& store, Checker& check) {
  // Versions contiguous, ids unique, read_stream == read_all.
  std::map<std::string, std::vector<const StoredEvent*>> streams;
  std::unordered_set<EventId> ids;
  GlobalPosition last{};
  for (const auto& event : run.log) {
    if (!ids.insert(event.id).second) check.fail("no event written twice", "event id " + event.id.str() + " is in the log twice");
    if (!(last < event.position))
      check.fail("one global order", "position " + to_string(event.position) + " follows " + to_string(last));
    last = event.position;
    auto& s = streams[event.stream.str()];
    if (event.version.value != s.size() + 1)
      check.fail("versions contiguous", "stream '" + event.stream.str() + "' has version " +
                                            std::to_string(event.version.value) + " after " + std::to_string(s.size()));
    s.push_back(&event);
  }
  for (const auto& [name, events] : streams) {
    auto read = store.read_stream(StreamId::try_new(name).value(), StreamVersion{1}, events.size() + 10);
    if (!read || read->size() != events.size()) {
      check.fail("versions contiguous", "read_stream('" + name + "') disagrees with read_all");
      continue;
    }
    for (std::size_t i = 0; i < events.size(); ++i)
      if ((*read)[i].id != events[i]->id || (*read)[i].version.value != i + 1)
        check.fail("versions contiguous", "read_stream('" + name + "') event " + std::to_string(i + 1) +
                                              " differs from read_all's");
  }

  // Per command.
  std::unordered_map<std::uint64_t, const StoredEvent*> by_sequence;
  for (const auto& event : run.log) by_sequence.emplace(event.position.sequence, &event);
  for (const auto& r : run.commands) {
    if (r.transactions.size() > 1) {
      std::string txs;
      for (auto t : r.transactions) txs += (txs.empty() ? "" : ", ") + std::to_string(t);
      check.fail("no event written twice", label(r) + " was written by " + std::to_string(r.transactions.size()) +
                                               " transactions (" + txs + ")");
    }
    if (r.must_not_have_written() && r.events_in_log > 0)
      check.fail("rejected commands wrote nothing",
                 label(r) + " ended with '" + to_string(r.results.back().error()) + "' but wrote " +
                     std::to_string(r.events_in_log) + " event(s)");
    if (r.outcome() == CommandRecord::Outcome::pending && r.killed == 0)
      check.fail("the run terminates", label(r) + " was submitted but never answered");
    for (const auto& result : r.results) {
      if (!result.ok()) continue;
      const auto& value = result.value();
      // No acknowledged event lost.
      if (!value.replayed && value.events_written != r.events_in_log)
        check.fail("no acknowledged event lost", label(r) + " was acknowledged with " +
                                                     std::to_string(value.events_written) + " event(s), the log holds " +
                                                     std::to_string(r.events_in_log));
      for (const auto& position : value.positions) {
        auto it = by_sequence.find(position.sequence);
        if (it == by_sequence.end() || it->second->position != position ||
            RunView::command_of(*it->second) != r.id)
          check.fail("no acknowledged event lost",
                     label(r) + " was acknowledged at position " + to_string(position) + ", which holds no event of it");
      }
      for (const auto& sv : value.stream_versions) {
        auto s = streams.find(sv.stream.str());
        const std::uint64_t now = s == streams.end() ? 0 : s->second.size();
        if (now < sv.version.value)
          check.fail("no acknowledged event lost", label(r) + " left stream '" + sv.stream.str() + "' at version " +
                                                       std::to_string(sv.version.value) + ", the log has " +
                                                       std::to_string(now));
      }
      // Serializable: at its transaction every declared stream was where it decided.
      if (!value.replayed && r.transactions.size() == 1) {
        const auto tx = r.transactions.front();
        for (const auto& sv : value.stream_versions) {
          auto s = streams.find(sv.stream.str());
          std::uint64_t at = 0;
          if (s != streams.end())
            for (const auto* e : s->second)
              if (e->position.transaction <= tx) ++at;
          if (at != sv.version.value)
            check.fail("serializable (read-only streams checked)",
                       label(r) + " decided on stream '" + sv.stream.str() + "' leaving it at version " +
                           std::to_string(sv.version.value) + ", but when it committed (tx " + std::to_string(tx) +
                           ") the stream was at version " + std::to_string(at));
        }
      }
    }
  }

  // In-process conflicts are impossible: the stream actors serialize writers.
  if (!run.crashes) {
    const auto stats = store.stats();
    if (stats.unexplained_conflicts > 0)
      check.fail("no in-process conflict", std::to_string(stats.unexplained_conflicts) +
                                               " conflict(s) not caused by a foreign writer; first: " +
                                               store.first_unexplained_conflict());
  }
}

void check_projection(const RunView& run, SimulatedStore& store, const Workload& workload,
                      const Projection& incremental, const std::string& delivery_violation, Checker& check) {
  if (!delivery_violation.empty()) check.fail("no event applied twice to a projection", delivery_violation);
  // The fold: every stream read on its own, merged into global order.
  std::set<std::string> names;
  for (const auto& e : run.log) names.insert(e.stream.str());
  std::vector<StoredEvent> merged;
  for (const auto& name : names) {
    StreamVersion from{1};
    for (;;) {
      auto page = store.read_stream(StreamId::try_new(name).value(), from, 7);
      if (!page) break;
      merged.insert(merged.end(), page->begin(), page->end());
      if (page->end_of_stream || page->empty()) break;
      from = page->next;
    }
  }
  std::sort(merged.begin(), merged.end(),
            [](const StoredEvent& a, const StoredEvent& b) { return a.position < b.position; });
  auto fold = workload.make_projection();
  for (const auto& e : merged) fold->apply(e);
  if (fold->digest() != incremental.digest())
    check.fail("projection equals a fold of the log",
               "runtime's: " + incremental.digest().substr(0, 300) + " / fold: " + fold->digest().substr(0, 300));
}

}  // namespace eventcore::simulation::detail
