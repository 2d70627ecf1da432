#pragma once

// Commands by wire name, for nodes that send commands to one another
// (remote.hpp). Register each command type once, under the same name on
// every node; its fields travel as cereal's binary archive:
//
//   CommandRegistry registry;
//   registry.add<bank::Deposit>("bank.Deposit").add<bank::TransferMoney>("bank.TransferMoney");
//
// A command needs a cereal serialize (or save and load) function. One
// without a default constructor (its fields validate themselves) provides
// cereal's load_and_construct instead of load, and may throw from it on
// values it refuses: the receiving node answers invalid_command.

#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include <cereal/archives/binary.hpp>
#include <cereal/types/memory.hpp>

#include "eventcore/actors/command.hpp"

namespace eventcore {

// A command as it crosses the network: its wire name and its fields.
struct EncodedCommand {
  std::string name;
  std::string bytes;
};

class CommandRegistry {
 public:
  // Wire names are 1 to 128 characters of [A-Za-z0-9._-]. Throws
  // std::invalid_argument on an invalid name, or a name or type registered twice.
  template <Command C>
  CommandRegistry& add(std::string wire_name) {
    insert(std::move(wire_name), typeid(C), [](std::string_view bytes, ExecuteOptions options) {
      std::istringstream in{std::string(bytes)};
      std::unique_ptr<C> command;
      {
        cereal::BinaryInputArchive archive(in);
        archive(command);
      }
      if (!command) throw std::invalid_argument("no command in the message");
      if (in.peek() != std::char_traits<char>::eof()) throw std::invalid_argument("bytes left after the command");
      return make_job(std::move(*command), std::move(options));
    });
    return *this;
  }

  // Errors: invalid_argument when C is not registered.
  template <Command C>
  Result<EncodedCommand> encode(const C& command) const {
    auto name = name_of(typeid(C), detail::command_name<C>());
    if (!name) return std::move(name).error();
    std::ostringstream out;
    {
      cereal::BinaryOutputArchive archive(out);
      archive(std::make_unique<C>(command));
    }
    return EncodedCommand{std::move(*name), std::move(out).str()};
  }

  // The job for a command received from another node. Errors:
  // invalid_argument for a name nobody registered here (the message lists
  // the names that are) or bytes that do not decode as its type.
  Result<CommandJobPtr> decode(const EncodedCommand& command, ExecuteOptions options) const;

  std::vector<std::string> names() const;

 private:
  using Decoder = std::function<CommandJobPtr(std::string_view bytes, ExecuteOptions options)>;
  void insert(std::string name, std::type_index type, Decoder decode);
  Result<std::string> name_of(std::type_index type, std::string_view command) const;

  std::map<std::string, Decoder, std::less<>> decoders_;
  std::map<std::type_index, std::string> names_;
};

}  // namespace eventcore
