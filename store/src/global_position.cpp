#include "eventcore/store/global_position.hpp"

namespace eventcore {

std::string to_string(const GlobalPosition& position) {
  return std::to_string(position.transaction) + ":" + std::to_string(position.sequence);
}

}  // namespace eventcore
