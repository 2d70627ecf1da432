#pragma once

#include "eventcore/simulation/workload.hpp"

namespace eventcore::simulation::detail {

// Fills every record's transactions/events_in_log from the log.
void attribute_log(const std::vector<StoredEvent>& log, std::vector<CommandRecord>& commands);

// The invariants every run must keep, whatever the domain.
void check_generic(const RunView& run, SimulatedStore& store, Checker& check);

// The projection the projection runtime folded during the run against a
// fresh one fed from the streams at the end; and what its sink saw of the
// delivery (an event twice or out of order: `delivery_violation`).
void check_projection(const RunView& run, SimulatedStore& store, const Workload& workload,
                      const Projection& incremental, const std::string& delivery_violation, Checker& check);

}  // namespace eventcore::simulation::detail
