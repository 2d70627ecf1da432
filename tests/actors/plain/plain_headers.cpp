// Compiled with -H by the test plain_headers_need_no_caf: the headers a
// plain-code user learns the library from must not pull in CAF.
#include "eventcore/actors/command.hpp"
#include "eventcore/actors/command_executor.hpp"
#include "eventcore/store/event_store.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/actors/command_registry.hpp"
#include "eventcore/actors/remote.hpp"
