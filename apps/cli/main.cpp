// eventcore: the operator's command line over a PostgreSQL store.
//
//   eventcore --database URL migrate
//   eventcore streams [--prefix account-] [--after ID] [--limit N]
//   eventcore read <stream> [--from V] [--limit N]
//   eventcore read --all [--from T:S] [--prefix P] [--type T]... [--limit N]
//   eventcore tail [--from T:S] [--prefix P] [--type T]... [--count N] [--timeout-ms MS]
//   eventcore append <stream> --expected-version any|no-stream|exists|N   < events.jsonl
//   eventcore projections
//   eventcore rebuild <projection> [--from T:S]
//   eventcore stats
//   eventcore execute --connect HOST:PORT [--tls-cert F --tls-key F --tls-ca F]
//                     open-account ID --owner NAME | deposit ID CENTS | withdraw ID CENTS |
//                     transfer FROM TO CENTS [--reference R]     [--idempotency-key K]
//
// --database defaults to $EVENTCORE_DATABASE_URL (execute needs none: the
// node it connects to runs the command). Output: JSON lines on
// stdout. Exit status: 0 ok, 1 an error (one line on stderr: what and where),
// 2 a usage error.

#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>

#include "admin_commands.hpp"
#include "eventcore/apps/node_flags.hpp"
#include "remote_command.hpp"

using namespace eventcore;

namespace {

void on_signal(int) { cli::request_stop(); }

GlobalPosition position_option(const std::string& text, const char* flag) {
  if (text.empty()) return {};
  auto parsed = parse_global_position(text);
  if (!parsed) throw CLI::ValidationError(flag, "must be a position like 1234:56, not '" + text + "'");
  return *parsed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"eventcore: look into and operate an EventCore store on PostgreSQL"};
  app.require_subcommand(1);
  std::string database, schema = "eventcore";
  app.add_option("--database", database, "PostgreSQL connection string or URI")->envname("EVENTCORE_DATABASE_URL");
  app.add_option("--schema", schema, "the store's schema")->capture_default_str();

  auto* migrate = app.add_subcommand("migrate", "apply pending schema migrations (open does it; this says so)");

  std::string prefix, after;
  std::size_t limit = 100;
  auto* streams = app.add_subcommand("streams", "list streams with their versions, in pages");
  streams->add_option("--prefix", prefix, "only streams whose id starts with this");
  streams->add_option("--after", after, "start after this stream id (the last one of the previous page)");
  streams->add_option("--limit", limit, "streams per page")->check(CLI::Range(1, 10000))->capture_default_str();

  std::string stream, from_text;
  bool all = false;
  std::uint64_t from_version = 1;
  std::size_t read_limit = 0;
  std::vector<std::string> types;
  auto* read = app.add_subcommand("read", "print a stream's events, or the log's (--all), as JSON lines");
  read->add_option("stream", stream, "the stream to read");
  read->add_flag("--all", all, "read the whole log in global order");
  read->add_option("--from", from_text, "a stream: the first version (default 1); --all: the position to read after");
  read->add_option("--prefix", prefix, "--all: only streams whose id starts with this");
  read->add_option("--type", types, "--all: only events of this type (repeatable)");
  read->add_option("--limit", read_limit, "at most this many events (0: all)");

  std::uint64_t count = 0;
  int timeout_ms = 0;
  auto* tail = app.add_subcommand("tail", "follow the log: print new events as they are committed");
  tail->add_option("--from", from_text, "the position to follow after (default: the head, only new events)");
  tail->add_option("--prefix", prefix, "only streams whose id starts with this");
  tail->add_option("--type", types, "only events of this type (repeatable)");
  tail->add_option("--count", count, "stop after this many events (exit 1 if --timeout-ms passes first)");
  tail->add_option("--timeout-ms", timeout_ms, "stop after this long")->check(CLI::Range(0, 86400000));

  std::string expected;
  auto* append = app.add_subcommand("append", "append events (JSON lines on stdin) to a stream, atomically");
  append->add_option("stream", stream, "the stream to append to")->required();
  append->add_option("--expected-version", expected, "any, no-stream, exists or the stream's current version")
      ->required();

  auto* projections = app.add_subcommand("projections", "list projections: checkpoint, state, owner, lag");

  std::string projection;
  int rebuild_timeout_s = 3600;
  auto* rebuild = app.add_subcommand("rebuild", "rebuild a projection into a fresh read model, with progress");
  rebuild->add_option("projection", projection, "event_counts or event_copy")->required();
  rebuild->add_option("--from", from_text, "the position to rebuild after (default: the start of the log)");
  rebuild->add_option("--timeout-s", rebuild_timeout_s, "give up after this long")
      ->check(CLI::Range(1, 7 * 86400))
      ->capture_default_str();

  auto* stats = app.add_subcommand("stats", "streams, events, head, size on disk, projections");

  std::string connect;
  TlsConfig tls_flags;
  int connect_timeout_ms = 5000, request_timeout_ms = 35000;
  cli::RemoteCommand remote;
  std::string key;
  std::uint64_t expected_version = 0;
  auto* execute = app.add_subcommand("execute", "run one of the bank's commands on a node (its --gateway)");
  execute->require_subcommand(1);
  execute->fallthrough();  // its flags may follow the command: deposit ada 500 --idempotency-key k
  execute->add_option("--connect", connect, "the node's command gateway, HOST:PORT")
      ->envname("EVENTCORE_CONNECT")
      ->required();
  apps::add_tls_flags(*execute, tls_flags);
  execute->add_option("--idempotency-key", key, "run at most once under this key (safe to repeat)");
  execute->add_option("--connect-timeout-ms", connect_timeout_ms)->check(CLI::Range(1, 600000))->capture_default_str();
  execute->add_option("--timeout-ms", request_timeout_ms, "how long to wait for the command's answer")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  auto* open_account = execute->add_subcommand("open-account", "open an account");
  open_account->add_option("id", remote.account)->required();
  open_account->add_option("--owner", remote.owner)->required();
  std::vector<CLI::App*> money_commands;
  for (const char* name : {"deposit", "withdraw"}) {
    auto* sub = execute->add_subcommand(name, std::string(name) + " an amount (in cents)");
    sub->add_option("id", remote.account)->required();
    sub->add_option("cents", remote.cents)->required()->check(CLI::NonNegativeNumber);
    sub->add_option("--expected-version", expected_version, "only if the account is at this version");
    money_commands.push_back(sub);
  }
  auto* transfer = execute->add_subcommand("transfer", "move an amount (in cents) between two accounts");
  transfer->add_option("from", remote.account)->required();
  transfer->add_option("to", remote.to)->required();
  transfer->add_option("cents", remote.cents)->required()->check(CLI::NonNegativeNumber);
  transfer->add_option("--reference", remote.reference);

  std::string command = "eventcore";
  try {
    app.parse(argc, argv);
    if (read->parsed() && all == !stream.empty())
      throw CLI::ValidationError("read", "give a stream, or --all (not both)");
    if (read->parsed() && !all && (!prefix.empty() || !types.empty()))
      throw CLI::ValidationError("read", "--prefix and --type go with --all");
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "eventcore: " << e.what() << " (see eventcore --help)\n";
    return 2;
  }
  if (execute->parsed()) {
    try {
      RemoteConfig config;
      auto endpoint = Endpoint::parse(connect);
      if (!endpoint) throw CLI::ValidationError("--connect", endpoint.error().message);
      config.host = endpoint->host;
      config.port = endpoint->port;
      config.network.tls = apps::tls_from_flags(tls_flags);
      config.network.connect_timeout = std::chrono::milliseconds(connect_timeout_ms);
      config.network.request_timeout = std::chrono::milliseconds(request_timeout_ms);
      for (auto* sub : execute->get_subcommands()) remote.name = sub->get_name();
      for (auto* sub : money_commands)
        if (sub->parsed() && sub->count("--expected-version") > 0) remote.expected_version = expected_version;
      if (!key.empty()) remote.idempotency_key = key;
      cli::execute_remote(config, remote, std::cout);
      return 0;
    } catch (const CLI::ValidationError& e) {
      std::cerr << "eventcore execute: " << e.what() << "\n";
      return 2;
    } catch (const cli::CommandFailure& e) {
      std::cerr << "eventcore execute: " << e.what() << "\n";
      return 1;
    }
  }
  if (database.empty()) {
    std::cerr << "eventcore: --database (or EVENTCORE_DATABASE_URL) is required (see eventcore --help)\n";
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  try {
    for (auto* sub : app.get_subcommands()) command = "eventcore " + sub->get_name();
    PostgresStoreConfig config;
    config.conninfo = database;
    config.schema = schema;
    config.pool_size = 2;
    auto opened = PostgresStore::open(config);
    if (!opened) {
      std::cerr << command << ": cannot open the store: " << opened.error().message << "\n";
      return 1;
    }
    cli::Context ctx{std::shared_ptr<PostgresStore>(std::move(opened).value()), std::cout};
    const EventFilter filter{types, prefix};
    if (migrate->parsed()) {
      cli::migrate(ctx);
    } else if (streams->parsed()) {
      cli::list_streams(ctx, prefix, after, limit);
    } else if (read->parsed() && all) {
      cli::read_all(ctx, position_option(from_text, "--from"), read_limit, filter);
    } else if (read->parsed()) {
      std::uint64_t first = 1;
      if (!from_text.empty()) {
        try {
          std::size_t used = 0;
          first = std::stoull(from_text, &used);
          if (used != from_text.size() || from_text[0] == '-') throw std::invalid_argument(from_text);
        } catch (const std::exception&) {
          throw CLI::ValidationError("--from", "must be a stream version, not '" + from_text + "'");
        }
      }
      from_version = first;
      cli::read_stream(ctx, stream, from_version, read_limit);
    } else if (tail->parsed()) {
      cli::TailOptions options;
      if (!from_text.empty()) options.after = position_option(from_text, "--from");
      options.filter = filter;
      options.count = count;
      options.timeout = std::chrono::milliseconds(timeout_ms);
      cli::tail(ctx, options);
    } else if (append->parsed()) {
      cli::append(ctx, stream, expected, std::cin);
    } else if (projections->parsed()) {
      cli::projections(ctx);
    } else if (rebuild->parsed()) {
      cli::rebuild(ctx, projection, position_option(from_text, "--from"), std::chrono::seconds(rebuild_timeout_s));
    } else if (stats->parsed()) {
      cli::stats(ctx);
    }
  } catch (const CLI::ValidationError& e) {
    std::cerr << command << ": " << e.what() << "\n";
    return 2;
  } catch (const cli::CommandFailure& e) {
    std::cerr << command << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
