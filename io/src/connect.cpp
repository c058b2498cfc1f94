#include "weft/io/connect.hpp"

#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "weft/io/resolve.hpp"

namespace weft::io {

namespace {

std::string host_port(const std::string& host, std::uint16_t port) {
  // An IPv6 literal needs brackets to be told apart from the port.
  if (host.find(':') != std::string::npos && host.front() != '[') return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

task<tcp_stream> connect_by_name(std::string host, std::uint16_t port, deadline d) {
  resolve_options ro;
  ro.timeout = d;
  const std::vector<address> addrs = co_await resolve(host, port, ro);
  std::optional<std::system_error> last;
  std::string tried;
  for (const address& a : addrs) {
    try {
      co_return co_await tcp_stream::connect(a, d);
    } catch (const std::system_error& e) {
      // Earlier failures go into the message; the last one is the error.
      if (last) tried += ": " + last->code().message() + ", ";
      tried += a.to_string();
      last = e;
    }
  }
  throw std::system_error(last->code(), "connect to " + host_port(host, port) + " (tried " + tried + ")");
}

}  // namespace

task<tcp_stream> connect(std::string_view host, std::uint16_t port, deadline d) {
  return connect_by_name(std::string(host), port, d);
}

}  // namespace weft::io
