#include "weft/io/tcp.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>

#include "error.hpp"
#include "weft/runtime/ops.hpp"

namespace weft::io {

using detail::throw_errno;

task<tcp_stream> tcp_stream::connect(address to, deadline d) {
  tcp_stream s(open_socket(to.family(), SOCK_STREAM));
  int r;
  {
    pending_op op(s);
    if (d) r = co_await with_deadline(d.at(), ops::connect(s.fd(), to.data(), to.size()));
    else r = co_await ops::connect(s.fd(), to.data(), to.size());
  }
  if (r < 0) throw_errno(-r, "connect to " + to.to_string());
  co_return s;
}

void tcp_stream::set_keepalive(bool on, std::chrono::seconds idle, std::chrono::seconds interval, int probes) {
  set_option(SOL_SOCKET, SO_KEEPALIVE, on);
  if (!on) return;
  if (idle.count() > 0) set_option(IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(idle.count()));
  if (interval.count() > 0) set_option(IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(interval.count()));
  if (probes > 0) set_option(IPPROTO_TCP, TCP_KEEPCNT, probes);
}

tcp_listener tcp_listener::bind(const address& at, const listen_options& opts) {
  tcp_listener l(open_socket(at.family(), SOCK_STREAM));
  if (opts.reuse_address) l.set_option(SOL_SOCKET, SO_REUSEADDR, 1);
  if (opts.reuse_port) l.set_option(SOL_SOCKET, SO_REUSEPORT, 1);
  if (at.is_ipv6()) l.set_option(IPPROTO_IPV6, IPV6_V6ONLY, opts.v6_only);
  if (::bind(l.fd(), at.data(), at.size()) < 0) throw_errno(errno, "bind " + at.to_string());
  if (::listen(l.fd(), opts.backlog) < 0) throw_errno(errno, "listen " + at.to_string());
  return l;
}

task<tcp_stream> tcp_listener::accept(deadline d) {
  pending_op op(*this);
  int r;
  if (d) r = co_await with_deadline(d.at(), queue_.next());
  else r = co_await queue_.next();
  r = op.result(r);
  if (r < 0) throw_errno(-r, "accept");
  co_return tcp_stream(r);
}

}  // namespace weft::io
