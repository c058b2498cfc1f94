// weft::ipc::pipe: an end is a shared block holding references to its
// two queues (raw block pointers: the shared heap lies at the same address
// in every process). When the end's last handle goes, in whatever process,
// both queues are closed: the other end reads what is left and then the
// end of file, and its sends fail.
#include <stdexcept>
#include <string>

#include "weft/ipc/pipe.hpp"

namespace weft::ipc::detail {

namespace {

struct pipe_end_state {
  block_header* send;  // a reference held by the end, or null
  block_header* recv;
};

block_header* take_reference(const shared_ref& q) noexcept {
  if (!q) return nullptr;
  q.block()->refs.fetch_add(1, std::memory_order_relaxed);
  return q.block();
}

}  // namespace

shared_ref make_pipe_end(const shared_ref& send, const shared_ref& recv, std::uint64_t type_tag) {
  shared_ref end(allocate_block(block_kind::pipe_end, type_tag, sizeof(pipe_end_state), alignof(pipe_end_state)));
  ::new (end.object<pipe_end_state>()) pipe_end_state{take_reference(send), take_reference(recv)};
  return end;
}

shared_ref pipe_queue(const shared_ref& end, bool sending) {
  if (!end) return {};
  pipe_end_state& s = *end.object<pipe_end_state>();
  block_header* q = sending ? s.send : s.recv;
  if (!q) return {};
  q->refs.fetch_add(1, std::memory_order_relaxed);
  return shared_ref(q);
}

void destroy_pipe_end(block_header* b) noexcept {
  auto* s = reinterpret_cast<pipe_end_state*>(reinterpret_cast<char*>(b) + object_offset(alignof(pipe_end_state)));
  for (block_header* q : {s->send, s->recv}) {
    if (!q) continue;
    shared_ref ref(q);  // adopts the end's reference, dropped at the end of this scope
    try {
      queue_core::close(ref);
    } catch (...) {
      // A queue left broken by a dead process (owner_died_error): its
      // users see that error already.
    }
  }
  s->send = s->recv = nullptr;
}

void throw_pipe_direction(const char* operation) {
  throw std::logic_error(std::string("weft::ipc::connection::") + operation +
                         ": this end of a one-way pipe cannot do that (pipe<T>(false): the first end receives, the "
                         "second sends), or the connection is closed");
}

}  // namespace weft::ipc::detail
