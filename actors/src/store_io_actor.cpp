// Runs the blocking EventStore calls. In production each io actor is
// detached (a thread of its own, like one pooled connection), so a slow
// database never stalls the cooperative scheduler. Appends that arrive while
// a store call runs pile up in the mailbox; they go to the store together as
// one append_batch (group commit), each request still all-or-nothing.

#include <caf/all.hpp>

#include "eventcore/actors/detail/actors.hpp"
#include "eventcore/actors/detail/protocol.hpp"

namespace eventcore::detail {
namespace {

struct IoState {
  static inline const char* name = "eventcore.store_io";
  std::shared_ptr<EventStore> store;
  std::size_t page_size = 1000;
  std::vector<AppendRequest> batch;
  std::vector<caf::response_promise> promises;
  bool flush_pending = false;
};

using IoActor = caf::stateful_actor<IoState>;

caf::behavior store_io(IoActor* self, std::shared_ptr<EventStore> store, std::size_t page_size) {
  self->state.store = std::move(store);
  self->state.page_size = page_size == 0 ? 1000 : page_size;
  return {
      [=](read_atom, const StreamId& stream) {
        return load_stream(*self->state.store, stream, self->state.page_size);
      },
      [=](append_atom, AppendRequest& request) -> caf::response_promise {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        st.batch.push_back(std::move(request));
        st.promises.push_back(rp);
        // The flush queues behind every append already in the mailbox.
        if (!st.flush_pending) {
          st.flush_pending = true;
          self->send(self, flush_atom::value);
        }
        return rp;
      },
      [=](flush_atom) {
        auto& st = self->state;
        st.flush_pending = false;
        auto batch = std::move(st.batch);
        auto promises = std::move(st.promises);
        st.batch.clear();
        st.promises.clear();
        auto results = st.store->append_batch(batch);
        for (std::size_t i = 0; i < promises.size(); ++i) {
          if (i < results.size() && results[i].ok())
            promises[i].deliver(AppendReply{std::move(results[i]).value(), std::nullopt});
          else if (i < results.size())
            promises[i].deliver(AppendReply{std::nullopt, std::move(results[i]).error()});
          else
            promises[i].deliver(AppendReply{std::nullopt, Error{ErrorCode::failed, "append_batch returned too few results"}});
        }
      },
  };
}

}  // namespace

LoadReply load_stream(EventStore& store, const StreamId& stream, std::size_t page_size) {
  if (page_size == 0) page_size = 1000;
  auto events = std::make_shared<std::vector<StoredEvent>>();
  StreamVersion from{1};
  for (;;) {
    auto page = store.read_stream(stream, from, page_size);
    if (!page) return LoadReply{nullptr, std::move(page).error()};
    const std::size_t n = page->size();
    for (auto& event : *page) events->push_back(std::move(event));
    if (n < page_size) break;
    from = StreamVersion{events->size() + 1};
  }
  return LoadReply{std::move(events), std::nullopt};
}

caf::actor spawn_store_io(caf::actor_system& system, std::shared_ptr<EventStore> store, IoMode mode,
                          std::size_t read_page_size) {
  if (mode != IoMode::cooperative) return system.spawn<caf::detached>(store_io, std::move(store), read_page_size);
  return system.spawn(store_io, std::move(store), read_page_size);
}

}  // namespace eventcore::detail
