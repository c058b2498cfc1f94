#include "weft/io/unix.hpp"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "error.hpp"
#include "weft/runtime/ops.hpp"

namespace weft::io {

using detail::throw_errno;

task<unix_stream> unix_stream::connect(std::string_view path, deadline d) {
  address to = address::unix_path(path);
  unix_stream s(open_socket(AF_UNIX, SOCK_STREAM));
  int r;
  {
    pending_op op(s);
    if (d) r = co_await with_deadline(d.at(), ops::connect(s.fd(), to.data(), to.size()));
    else r = co_await ops::connect(s.fd(), to.data(), to.size());
  }
  if (r < 0) throw_errno(-r, "connect to " + std::string(path));
  co_return s;
}

std::pair<unix_stream, unix_stream> unix_stream::pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) throw_errno(errno, "socketpair");
  return {unix_stream(fds[0]), unix_stream(fds[1])};
}

unix_listener unix_listener::bind(std::string_view path, const listen_options& opts, bool remove_existing) {
  address at = address::unix_path(path);
  unix_listener l(open_socket(AF_UNIX, SOCK_STREAM));
  if (remove_existing && !path.empty() && path.front() != '@') {
    std::string p(path);
    struct ::stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(p.c_str());
  }
  if (::bind(l.fd(), at.data(), at.size()) < 0) throw_errno(errno, "bind " + std::string(path));
  if (::listen(l.fd(), opts.backlog) < 0) throw_errno(errno, "listen " + std::string(path));
  return l;
}

task<unix_stream> unix_listener::accept(deadline d) {
  pending_op op(*this);
  int r;
  if (d) r = co_await with_deadline(d.at(), ops::accept(fd_));
  else r = co_await ops::accept(fd_);
  r = op.result(r);
  if (r < 0) throw_errno(-r, "accept");
  co_return unix_stream(r);
}

}  // namespace weft::io
