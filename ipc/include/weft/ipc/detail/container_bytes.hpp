// What shared_map and shared_list have in common (not for users): values
// stored as serialized bytes, and the callback their cores run under the
// container's lock for update().
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "weft/ipc/errors.hpp"
#include "weft/ipc/serialize.hpp"

namespace weft::ipc::detail {

using container_bytes = std::vector<std::byte>;
/// Called by the core under the container's lock with the current value's
/// bytes (found false: none); writes the new value's bytes to `out`.
using container_update_fn = void (*)(void* context, const std::byte* current, std::size_t size, bool found,
                                     container_bytes& out);

/// v serialized; `who` names the container in the message of a serializer
/// that writes another size than it counted.
template <class T>
container_bytes to_container_bytes(const T& v, const char* who) {
  size_counter counter;
  ipc::encode(counter, v);
  container_bytes out(counter.size());
  byte_writer writer(out.data(), out.size());
  ipc::encode(writer, v);
  if (writer.written() != out.size())
    throw serialization_error(std::string(who) + ": the serializer wrote " + std::to_string(writer.written()) +
                              " bytes after counting " + std::to_string(out.size()));
  return out;
}

/// A T back from n bytes; `what` names the stored thing ("an entry's").
template <class T>
T from_container_bytes(const std::byte* p, std::size_t n, const char* who, const char* what) {
  byte_reader reader(p, n);
  T v(ipc::decode<T>(reader));
  if (reader.remaining() != 0)
    throw serialization_error(std::string(who) + ": the serializer left " + std::to_string(reader.remaining()) +
                              " of " + what + " " + std::to_string(n) + " bytes unread");
  return v;
}

}  // namespace weft::ipc::detail
