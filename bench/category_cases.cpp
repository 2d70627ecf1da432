// Category reads: read_all pages filtered by a stream prefix ("ten-", a
// category holding 1 event in 10 of the log; "hundred-", 1 in 100), against
// unfiltered pages of the same size from the same store, in the same run.
// A read that walks the log and drops what does not match costs ~10x and
// ~100x the baseline; one that reads the category's own index costs about
// the same. Each op reads one page after a random position of the log's
// first half (so that a full page exists).

#include <iostream>
#include <random>

#include "cases.hpp"
#include "harness.hpp"
#include "report.hpp"

namespace eventcore::bench {

namespace {

// The log: appends of 1,000 events to three streams, "other-<n>" (890),
// "ten-<n>" (100), "hundred-<n>" (10), in that order. Returns the position of
// each append's first event.
std::vector<GlobalPosition> load_categories(EventStore& store, const Options& o, const Payload& payload) {
  std::vector<GlobalPosition> starts;
  const std::size_t appends = std::max<std::size_t>(1, o.catchup_events / 1000);
  const auto begin = Clock::now();
  for (std::size_t n = 0; n < appends; ++n) {
    AppendRequest request;
    for (auto [category, count] : {std::pair{"other-", 890}, {"ten-", 100}, {"hundred-", 10}}) {
      StreamWrite write{stream_id(category + std::to_string(n)), ExpectedVersion::no_stream(), {}};
      for (int i = 0; i < count; ++i) write.events.push_back(make_event(payload));
      request.streams.push_back(std::move(write));
    }
    auto result = store.append(request);
    if (!result) throw std::runtime_error("loading the category log: " + to_string(result.error()));
    starts.push_back(result->positions.front());
    if ((n + 1) % std::max<std::size_t>(1, appends / 10) == 0)
      std::cerr << "[bench] loading the category log: " << with_commas(static_cast<double>((n + 1) * 1000)) << "/"
                << with_commas(static_cast<double>(appends * 1000)) << " events ("
                << with_commas(static_cast<double>((n + 1) * 1000) /
                               std::chrono::duration<double>(Clock::now() - begin).count())
                << " events/s)" << std::endl;
  }
  return starts;
}

class PageReader final : public Client {
 public:
  PageReader(EventStore& store, const std::vector<GlobalPosition>& starts, EventFilter filter, std::size_t page,
             unsigned seed)
      : store_(store), starts_(starts), filter_(std::move(filter)), page_(page), random_(seed) {}
  std::uint64_t op(std::string& error) override {
    const auto& from = starts_[random_() % std::max<std::size_t>(1, starts_.size() / 2)];
    auto read = store_.read_all(from, page_, filter_);
    if (!read) {
      error = to_string(read.error());
      return 0;
    }
    if (read->events.size() != page_) error = "a page of " + std::to_string(read->events.size()) + " events";
    return read->events.size();
  }

 private:
  EventStore& store_;
  const std::vector<GlobalPosition>& starts_;
  EventFilter filter_;
  std::size_t page_;
  std::minstd_rand random_;
};

}  // namespace

void run_category_cases(const Options& o, EventStore& store, const std::string& family) {
  const Payload payload = make_payload(o.payload_bytes);
  const auto starts = load_categories(store, o, payload);
  auto side = [&](const std::string& name, const std::string& prefix) {
    return Side{name, [&, prefix] {
      std::vector<std::unique_ptr<Client>> clients;
      for (int c = 0; c < o.clients; ++c)
        clients.push_back(std::make_unique<PageReader>(store, starts, EventFilter{{}, prefix}, o.page_size,
                                                       static_cast<unsigned>(c + 1)));
      return run_clients(clients, o.seconds, o.warmup_ops);
    }};
  };
  for (auto [prefix, one_in] : {std::pair{"ten-", 10}, {"hundred-", 100}}) {
    const std::string name = family + "_read_category_1in" + std::to_string(one_in);
    auto c = alternate(name, o.reps, side("unfiltered read_all", ""), side("read_all by prefix", prefix), false,
                       "reads/s");
    CaseReport r;
    r.bench = name;
    r.metric = "category_read_throughput";
    r.unit = "reads/s";
    r.clients = o.clients;
    r.baseline = "unfiltered_read_all_same_page_size";
    r.target_ratio = 0.8;
    r.extra["one_in"] = one_in;
    r.extra["prefix"] = prefix;
    r.extra["log_events"] = starts.size() * 1000;
    r.extra["page_size"] = o.page_size;
    emit(r, c);
  }
}

}  // namespace eventcore::bench
