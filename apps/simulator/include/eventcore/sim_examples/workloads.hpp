#pragma once

// Simulation workloads for the example domains: the documented example of
// how a user simulates their own domain (see docs/SIMULATION.md).
//   bank:   open, deposit, withdraw, transfer over a few or many accounts
//   orders: place, approve (discovering inventory streams), add stock
//   mixed:  both on one runtime and one store

#include <memory>
#include <string_view>

#include "eventcore/simulation/workload.hpp"

namespace eventcore::sim_examples {

std::unique_ptr<simulation::Workload> make_bank_workload();
std::unique_ptr<simulation::Workload> make_orders_workload();
std::unique_ptr<simulation::Workload> make_mixed_workload();
// By name ("bank", "orders", "mixed"); null for another name.
std::unique_ptr<simulation::Workload> make_workload(std::string_view name);

}  // namespace eventcore::sim_examples
