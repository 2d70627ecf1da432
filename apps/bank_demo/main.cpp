// The bank through the command runtime: opens accounts, runs concurrent
// transfers between them (each one atomic across two account streams),
// prints the final balances, the retries and the throughput, and checks that
// no money appeared or vanished. Progress goes to stderr, results to stdout.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/actors/logging.hpp"
#include "eventcore/bank/commands.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"

namespace {

using namespace eventcore;
using Clock = std::chrono::steady_clock;

// "12.34" or "12" (a decimal amount, at most two decimals) -> Money.
Result<bank::Money> parse_money(const std::string& text) {
  auto bad = [&] {
    return Error{ErrorCode::invalid_argument,
                 "'" + text + "' is no amount of money (expected e.g. 250 or 12.50; at most two decimals, not negative)"};
  };
  if (!text.empty() && text[0] == '-')
    return Error{ErrorCode::invalid_argument, "an amount of money cannot be negative ('" + text + "')"};
  std::int64_t units = 0, cents = 0;
  std::size_t i = 0, digits = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
    if (units > 1'000'000'000'000LL) return bad();
    units = units * 10 + (text[i] - '0');
  }
  if (digits == 0) return bad();
  if (i < text.size()) {
    if (text[i] != '.' || i + 1 == text.size() || text.size() - i - 1 > 2) return bad();
    for (std::size_t j = i + 1; j < text.size(); ++j) {
      if (!std::isdigit(static_cast<unsigned char>(text[j]))) return bad();
      cents = cents * 10 + (text[j] - '0');
    }
    if (text.size() - i - 1 == 1) cents *= 10;
  }
  return bank::Money::try_new(units * 100 + cents);
}

std::string money(std::int64_t cents) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%lld.%02lld", cents < 0 ? "-" : "", static_cast<long long>(std::llabs(cents) / 100),
                static_cast<long long>(std::llabs(cents) % 100));
  return buf;
}

// splitmix64: the demo's transfers are reproducible from --seed.
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

// Counts what the concurrent commands did; the main thread waits on it.
struct Tally {
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t finished = 0, ok = 0, rejected = 0, failed = 0, retries = 0;
  std::string first_failure, first_rejection;

  void add(const ExecuteResult& r) {
    std::lock_guard lock(mutex);
    ++finished;
    if (r.ok()) {
      ++ok;
      retries += r.value().attempts - 1;
    } else {
      retries += r.error().attempts > 0 ? r.error().attempts - 1 : 0;
      if (r.error().code == CommandErrorCode::validation_failed) {
        ++rejected;
        if (first_rejection.empty()) first_rejection = r.error().message;
      } else {
        ++failed;
        if (first_failure.empty()) first_failure = to_string(r.error());
      }
    }
    changed.notify_all();
  }
};

// Runs `total` commands with `clients` in flight at once; make(i) builds the
// i-th. Shows a progress line on stderr while it waits.
template <class Make>
void run_concurrently(const CommandExecutor& executor, std::size_t total, std::size_t clients, Tally& tally,
                      const std::string& what, Make make) {
  auto next = std::make_shared<std::atomic<std::size_t>>(0);
  // Each client submits its next command from the previous one's callback.
  auto step = std::make_shared<std::function<void()>>();
  *step = [&executor, &tally, next, total, make, weak = std::weak_ptr<std::function<void()>>(step)] {
    const std::size_t i = next->fetch_add(1);
    if (i >= total) return;
    executor.submit(make(i), [&tally, weak](const ExecuteResult& r) {
      tally.add(r);
      if (auto s = weak.lock()) (*s)();
    });
  };
  const std::size_t start_finished = [&] {
    std::lock_guard lock(tally.mutex);
    return tally.finished;
  }();
  for (std::size_t c = 0; c < std::min(clients, total); ++c) (*step)();
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto t0 = Clock::now();
  auto last_line = t0;
  std::unique_lock lock(tally.mutex);
  for (;;) {
    const bool done =
        tally.changed.wait_for(lock, std::chrono::milliseconds(200), [&] { return tally.finished - start_finished >= total; });
    const auto now = Clock::now();
    const std::size_t n = tally.finished - start_finished;
    const double secs = std::chrono::duration<double>(now - t0).count();
    if (done || tty || now - last_line >= std::chrono::seconds(1)) {
      std::fprintf(stderr, "%s[bank] %s: %zu/%zu done, %.0f/s, %zu retried, %zu failed%s", tty ? "\r" : "",
                   what.c_str(), n, total, secs > 0 ? static_cast<double>(n) / secs : 0.0, tally.retries, tally.failed,
                   tty && !done ? "   " : "\n");
      last_line = now;
    }
    if (done) break;
  }
  lock.unlock();
  // The last callbacks may still hold `step`; they find nothing left to run.
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"EventCore bank demo: concurrent transfers through the command runtime"};
  std::string store_kind = "postgres";
  std::string url = std::getenv("EVENTCORE_DATABASE_URL") ? std::getenv("EVENTCORE_DATABASE_URL") : "";
  std::string schema = "eventcore_bank_demo";
  std::size_t accounts = 100, transfers = 5000, clients = 32;
  std::string initial_text = "1000.00", max_amount_text = "50.00", log_format, log_level;
  std::uint64_t seed = 42;
  bool print_metrics = false;
  app.add_option("--store", store_kind, "memory or postgres")->check(CLI::IsMember({"memory", "postgres"}))->capture_default_str();
  app.add_option("--database-url", url, "libpq connection string (default: $EVENTCORE_DATABASE_URL)");
  app.add_option("--schema", schema, "PostgreSQL schema for the events")->capture_default_str();
  app.add_option("--accounts", accounts, "accounts to open (at least 2)")->check(CLI::Range(2, 100000))->capture_default_str();
  app.add_option("--transfers", transfers, "transfers to run")->check(CLI::Range(0, 100000000))->capture_default_str();
  app.add_option("--clients", clients, "transfers in flight at once")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--initial-balance", initial_text, "deposit into each new account")->capture_default_str();
  app.add_option("--max-amount", max_amount_text, "largest transfer (amounts are random up to it)")->capture_default_str();
  app.add_option("--seed", seed, "seed of the random transfers")->capture_default_str();
  app.add_option("--log-format", log_format, "text or json (default: $EVENTCORE_LOG_FORMAT or text)");
  app.add_option("--log-level", log_level, "trace, debug (a line per command), info, warn, error, off (default: warn)");
  app.add_flag("--metrics", print_metrics, "print the runtime's metrics (Prometheus text format) at the end");
  CLI11_PARSE(app, argc, argv);

  auto fail = [](const std::string& message, int code = 2) {
    std::cerr << "eventcore-bank-demo: " << message << "\n";
    return code;
  };
  auto initial = parse_money(initial_text);
  if (!initial) return fail("bad --initial-balance: " + initial.error().message);
  auto max_amount = parse_money(max_amount_text);
  if (!max_amount) return fail("bad --max-amount: " + max_amount.error().message);
  if (max_amount->cents() == 0) return fail("bad --max-amount: a transfer must be more than zero");
  // The total is summed in cents (int64): refuse a bank whose money would not fit.
  if (initial->cents() > 0 &&
      static_cast<std::uint64_t>(initial->cents()) > static_cast<std::uint64_t>(INT64_MAX) / accounts)
    return fail("--accounts " + std::to_string(accounts) + " with --initial-balance " + initial_text +
                " each is more money than 64-bit cents hold (at most " + money(INT64_MAX / static_cast<std::int64_t>(accounts)) +
                " per account)");

  auto log_config = log_config_from_env({LogFormat::text, LogLevel::warn});
  if (!log_config) return fail(log_config.error().message);
  if (!log_format.empty()) {
    auto f = parse_log_format(log_format);
    if (!f) return fail("bad --log-format: " + f.error().message);
    log_config->format = *f;
  }
  if (!log_level.empty()) {
    auto l = parse_log_level(log_level);
    if (!l) return fail("bad --log-level: " + l.error().message);
    log_config->level = *l;
  }
  configure_logging(*log_config);

  std::shared_ptr<EventStore> store;
  if (store_kind == "memory") {
    store = std::make_shared<MemoryStore>();
  } else {
    if (url.empty()) return fail("no database: pass --database-url or set EVENTCORE_DATABASE_URL (or use --store=memory)");
    auto opened = PostgresStore::open({.conninfo = url, .schema = schema, .pool_size = 8,
                                       .connect_timeout = std::chrono::seconds(3)});
    if (!opened) {
      const char* kind = opened.error().code == ErrorCode::unavailable ? "store unavailable" : "cannot open the store";
      return fail(std::string(kind) + " (" + redact_conninfo(url) + "): " + opened.error().message, 1);
    }
    store = std::shared_ptr<EventStore>(std::move(opened).value());
  }
  log_message(LogLevel::info, "bank demo on " + (store_kind == "memory" ? std::string("memory") : redact_conninfo(url)));

  auto built = CommandExecutor::builder()
                   .with_store(store)
                   .with_retry_policy(RetryPolicy::exponential(std::chrono::milliseconds(2), 2.0,
                                                               std::chrono::milliseconds(200), 10))
                   .build();
  if (!built) return fail("cannot start the runtime: " + built.error().message, 1);
  const CommandExecutor executor = std::move(built).value();

  // A fresh set of accounts per run, so runs against one schema never collide.
  const std::string run = EventId::generate().str().substr(24);
  std::vector<bank::AccountId> ids;
  for (std::size_t i = 0; i < accounts; ++i)
    ids.push_back(bank::AccountId::try_new("acct-" + run + "-" + std::to_string(i)).value());

  std::cerr << "[bank] run " << run << ": " << accounts << " accounts with " << money(initial->cents()) << " each, "
            << transfers << " transfers of up to " << money(max_amount->cents()) << ", " << clients
            << " clients, store " << (store_kind == "memory" ? "memory" : redact_conninfo(url) + " schema " + schema)
            << "\n";

  Tally setup;
  run_concurrently(executor, accounts, clients, setup, "opening accounts", [&](std::size_t i) -> CommandJobPtr {
    return make_job(bank::OpenAccount{ids[i], "owner-" + std::to_string(i)});
  });
  if (setup.failed == 0 && setup.rejected == 0)
    run_concurrently(executor, accounts, clients, setup, "initial deposits", [&](std::size_t i) -> CommandJobPtr {
      return make_job(bank::Deposit{ids[i], *initial});
    });
  if (setup.failed > 0 || setup.rejected > 0) {
    executor.shutdown();
    const std::string why = !setup.first_failure.empty() ? setup.first_failure : setup.first_rejection;
    const bool unavailable = why.find("store_unavailable") != std::string::npos;
    return fail(std::string(unavailable ? "store unavailable: " : "opening the accounts failed: ") + why, 1);
  }

  Tally tally;
  const auto t0 = Clock::now();
  run_concurrently(executor, transfers, clients, tally, "transfers", [&, seed](std::size_t i) -> CommandJobPtr {
    Random random{seed ^ (i * 0x9e3779b97f4a7c15ULL)};
    const std::size_t from = random.next() % accounts;
    const std::size_t to = (from + 1 + random.next() % (accounts - 1)) % accounts;
    auto amount = bank::Money::try_new(1 + static_cast<std::int64_t>(random.next() % max_amount->cents())).value();
    return make_job(bank::TransferMoney{ids[from], ids[to], amount, "t" + std::to_string(i)});
  });
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  // Final balances, folded from the store (not from the runtime's caches).
  std::map<StreamId, bank::Account> folded;
  std::int64_t total = 0;
  for (const auto& id : ids) {
    StreamVersion from{1};
    for (;;) {
      auto page = store->read_stream(id.stream(), from, 1000);
      if (!page) {
        executor.shutdown();
        return fail(std::string(page.error().code == ErrorCode::unavailable ? "store unavailable: " : "reading failed: ") +
                        to_string(page.error()),
                    1);
      }
      for (const auto& stored : *page) {
        auto event = EventCodec<bank::Event>::decode(stored);
        if (!event) return fail("a stored event does not decode: " + to_string(event.error()), 1);
        folded[stored.stream].apply(*event);
      }
      if (page->end_of_stream || page->empty()) break;  // a short page is not the end: the store may clamp pages
      from = page->next;
    }
  }
  std::cout << "final balances:\n";
  for (const auto& id : ids) {
    const std::int64_t balance = folded[id.stream()].balance;
    total += balance;
    char line[160];
    std::snprintf(line, sizeof line, "  %-28s %14s\n", id.str().c_str(), money(balance).c_str());
    std::cout << line;
  }
  const std::int64_t expected = static_cast<std::int64_t>(accounts) * initial->cents();
  std::cout << "total: " << money(total) << " (expected " << money(expected) << ": "
            << (total == expected ? "money conserved" : "MISMATCH") << ")\n";
  std::cout << "transfers: " << tally.ok << " done, " << tally.rejected << " rejected (insufficient funds), "
            << tally.failed << " failed\n";
  std::cout << "conflicts retried: " << executor.metrics()->retries(RetryReason::conflict)
            << " (transient errors retried: " << executor.metrics()->retries(RetryReason::transient) << ")\n";
  char rate[128];
  std::snprintf(rate, sizeof rate, "throughput: %.0f transfers/s (%zu in %.2f s, %zu clients)\n",
                seconds > 0 ? static_cast<double>(tally.finished) / seconds : 0.0, tally.finished, seconds, clients);
  std::cout << rate;
  if (print_metrics) std::cout << "\n" << executor.metrics()->render_prometheus();
  executor.shutdown();

  if (tally.failed > 0) {
    const bool unavailable = tally.first_failure.find("store_unavailable") != std::string::npos;
    std::cerr << "eventcore-bank-demo: " << tally.failed << " transfer(s) failed"
              << (unavailable ? " (store unavailable)" : "") << "; first: " << tally.first_failure << "\n";
    return 1;
  }
  return total == expected ? 0 : 1;
}
