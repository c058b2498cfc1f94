// weft::io::connect: a TCP connection to a host by name.
//
//   weft::io::tcp_stream s = co_await weft::io::connect("localhost", 8080, 5s);
//
// Resolves `host` (io::resolve: a name or a numeric address), then tries
// each address in the resolver's order until one connects. When all fail,
// throws the last std::system_error (ECONNREFUSED, ENETUNREACH...), its
// message naming host:port and every address tried; a name that does not
// resolve throws io::resolve_error.
//
// Deadline: `d` covers the lookup and all the attempts together (when
// unset, the lookup alone is bounded by io::default_resolve_timeout);
// when it passes, weft::timeout_error, and no further address is tried.
// Cancellation: weft::operation_cancelled, from whichever step is pending.
#pragma once

#include <cstdint>
#include <string_view>

#include "weft/io/deadline.hpp"
#include "weft/io/tcp.hpp"
#include "weft/runtime/task.hpp"

namespace weft::io {

task<tcp_stream> connect(std::string_view host, std::uint16_t port, deadline d = {});

}  // namespace weft::io
