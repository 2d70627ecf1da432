#pragma once

// Picking and running a benchmark binary's cases by name (--cases, --list).

#include <functional>
#include <string>
#include <vector>

namespace eventcore::bench {

struct NamedCase {
  std::string name;
  std::function<void()> run;
  bool needs_postgres = false;
};

// Runs every case whose name starts with one of the comma-separated
// `prefixes`, in order; a PostgreSQL case without a database is skipped with
// a note on stderr. Returns the number of cases that threw (each reported).
int run_selected(const std::vector<NamedCase>& cases, const std::string& prefixes, bool have_database);

}  // namespace eventcore::bench
