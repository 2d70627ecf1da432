#include "eventcore/projections/checkpoint_store.hpp"

namespace eventcore::projections {

std::string to_string(const Checkpoint& checkpoint) {
  return eventcore::to_string(checkpoint.position) + " (generation " + std::to_string(checkpoint.generation) + ")";
}

}  // namespace eventcore::projections
