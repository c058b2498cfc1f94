#include "weft/io/serve.hpp"

#include <cerrno>
#include <cstdio>

namespace weft::io::detail {

accept_failure classify_accept_error(const std::system_error& e) noexcept {
  if (e.code().category() != std::system_category()) return accept_failure::fatal;
  switch (e.code().value()) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM: return accept_failure::back_off;  // resources: wait for some to free up
    case ECONNABORTED:
    case EINTR:
    case EAGAIN:
    case EPERM:  // refused by a firewall rule
    case EPROTO:
    case ENETDOWN:  // accept(2) says to treat these like EAGAIN
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH: return accept_failure::retry_now;
    default: return accept_failure::fatal;
  }
}

void report_accept_error(const serve_options& o, const std::system_error& e) {
  if (o.on_accept_error) {
    o.on_accept_error(e);
    return;
  }
  std::fprintf(stderr, "weft::io::serve: %s; backing off, existing connections go on\n", e.what());
}

void report_handler_error(const serve_options& o, std::exception_ptr e) {
  if (o.on_handler_error) {
    o.on_handler_error(e);
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::fprintf(stderr, "weft::io::serve: connection handler failed: %s\n", x.what());
  } catch (...) {
    std::fprintf(stderr, "weft::io::serve: connection handler failed (not a std::exception)\n");
  }
}

}  // namespace weft::io::detail
