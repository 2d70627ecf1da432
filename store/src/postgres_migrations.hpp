#pragma once

#include <libpq-fe.h>

#include <string>

#include "eventcore/store/result.hpp"

namespace eventcore::pg {

// Brings `schema` up to the newest version of the store's tables and
// functions. The connection's search_path must name `schema` alone (the
// pool sets it). Safe to run concurrently from any number of processes: the
// whole migration is one transaction that first takes an advisory lock on
// the schema's name; running it again when nothing is pending changes nothing.
Status apply_migrations(PGconn* conn, const std::string& schema);

// The newest schema version this build knows.
int latest_schema_version();

}  // namespace eventcore::pg
