#include "eventcore/actors/command_registry.hpp"

#include <algorithm>

namespace eventcore {

namespace {
bool valid_wire_name(std::string_view name) {
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}
}  // namespace

void CommandRegistry::insert(std::string name, std::type_index type, Decoder decode) {
  if (!valid_wire_name(name))
    throw std::invalid_argument("command wire name '" + name + "' is not 1 to 128 characters of [A-Za-z0-9._-]");
  if (decoders_.contains(name)) throw std::invalid_argument("command wire name '" + name + "' is registered twice");
  if (auto it = names_.find(type); it != names_.end())
    throw std::invalid_argument("command type registered twice, as '" + it->second + "' and '" + name + "'");
  names_.emplace(type, name);
  decoders_.emplace(std::move(name), std::move(decode));
}

Result<std::string> CommandRegistry::name_of(std::type_index type, std::string_view command) const {
  if (auto it = names_.find(type); it != names_.end()) return it->second;
  return Error{ErrorCode::invalid_argument,
               "command " + std::string(command) + " is not registered for the network (CommandRegistry::add)"};
}

Result<CommandJobPtr> CommandRegistry::decode(const EncodedCommand& command, ExecuteOptions options) const {
  auto it = decoders_.find(command.name);
  if (it == decoders_.end())
    return Error{ErrorCode::invalid_argument,
                 "unknown command '" + command.name + "' (this node knows: " + joined(names()) + ")"};
  try {
    return it->second(command.bytes, std::move(options));
  } catch (const std::exception& e) {
    return Error{ErrorCode::invalid_argument, "command '" + command.name + "' does not decode: " + e.what()};
  }
}

std::vector<std::string> CommandRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : decoders_) out.push_back(name);
  return out;
}

}  // namespace eventcore
