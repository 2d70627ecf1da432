#include "selection.hpp"

#include <exception>
#include <iostream>

namespace eventcore::bench {

int run_selected(const std::vector<NamedCase>& cases, const std::string& prefixes, bool have_database) {
  std::vector<std::string> wanted;
  for (std::size_t start = 0; start <= prefixes.size();) {
    auto comma = prefixes.find(',', start);
    if (comma == std::string::npos) comma = prefixes.size();
    if (comma > start) wanted.push_back(prefixes.substr(start, comma - start));
    start = comma + 1;
  }
  int failures = 0;
  for (const auto& c : cases) {
    bool selected = false;
    for (const auto& w : wanted) selected = selected || c.name.rfind(w, 0) == 0;
    if (!selected) continue;
    if (c.needs_postgres && !have_database) {
      std::cerr << "[bench] " << c.name << " skipped: no EVENTCORE_DATABASE_URL" << std::endl;
      continue;
    }
    try {
      c.run();
    } catch (const std::exception& ex) {
      std::cerr << "[bench] " << c.name << " failed: " << ex.what() << std::endl;
      ++failures;
    }
  }
  return failures;
}

}  // namespace eventcore::bench
