// A scriptable HTTP/1.1 test server on raw io::tcp_listener/tcp_stream
// (optionally TLS), for testing the HTTP client without weft's own server.
// Each request goes to a handler that writes whatever bytes it likes (a
// proper response, half of one, garbage, nothing) and says whether to
// keep the connection. It counts accepts and how many handlers run at once.
//
//   auto srv = test_server::start([](test_conn& c, http::request& req) -> weft::task<bool> {
//     co_await c.send(response_bytes(200, "hello"));
//     co_return true;                                // keep the connection
//   });
//   ... client requests to srv->url("/path") ...
//   co_await srv->stop();                            // before the runtime ends
//
// Also the compressed bodies the Content-Encoding tests send and decode:
// zip() and sample_text().
#pragma once

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "io_test_support.hpp"
#include "weft/http/parser.hpp"
#include "weft/io/tls.hpp"
#include "weft/runtime/spawn.hpp"

namespace weft_test {

namespace http = weft::http;

/// One accepted connection, plain or TLS.
class test_conn {
 public:
  using tls_t = weft::io::tls_stream<weft::io::tcp_stream>;

  int id = 0;      // 1 for the first connection accepted
  int served = 0;  // requests handled on it before this one

  weft::task<std::size_t> read_some(std::span<std::byte> buf) {
    if (tls) co_return co_await tls->read_some(buf, std::chrono::seconds(20));
    co_return co_await tcp->read_some(buf, std::chrono::seconds(20));
  }
  weft::task<void> send(std::string_view bytes) {
    if (tls) co_await weft::io::write_all(*tls, weft::io::as_bytes(bytes), std::chrono::seconds(20));
    else co_await tcp->write_all(weft::io::as_bytes(bytes), std::chrono::seconds(20));
  }
  /// The next request, or nullopt when the client closed the connection.
  weft::task<std::optional<http::request>> next_request() {
    std::byte buf[8192];
    for (;;) {
      // Feed until the parser wants more: an empty rest may still complete
      // a message (after headers_done, message_complete follows even when
      // there is no body).
      if (!pending_.empty() || parser_.in_message()) {
        for (;;) {
          auto r = parser_.feed(pending_);
          pending_.erase(0, r.consumed);
          if (r.event == http::parse_event::error) throw std::runtime_error("test server: bad request");
          if (r.event == http::parse_event::message_complete) co_return parser_.message();
          if (r.event == http::parse_event::need_more) break;
        }
      }
      std::size_t n = co_await read_some(buf);
      if (n == 0) co_return std::nullopt;
      pending_.append(reinterpret_cast<const char*>(buf), n);
    }
  }
  /// Reads until the client closes (or 20 s pass): a server that stalls.
  weft::task<void> wait_for_close() {
    std::byte buf[4096];
    try {
      while (co_await read_some(buf) > 0) {
      }
    } catch (...) {
    }
  }

  std::optional<weft::io::tcp_stream> tcp;
  std::optional<tls_t> tls;

 private:
  http::request_parser parser_{http::parser_limits{}, http::body_mode::accumulate};
  std::string pending_;
};

/// A response with Content-Length; `extra` holds more header lines, each
/// ending in CRLF.
inline std::string response_bytes(int status, std::string_view body, std::string_view extra = {},
                                  std::string_view reason = "X") {
  std::string s = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  s += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  s += extra;
  s += "\r\n";
  s += body;
  return s;
}

class test_server {
 public:
  using handler = std::function<weft::task<bool>(test_conn&, http::request&)>;

  static std::unique_ptr<test_server> start(handler h, std::shared_ptr<weft::io::tls_context> tls = nullptr) {
    auto s = std::unique_ptr<test_server>(new test_server(std::move(h), std::move(tls)));
    s->loop_ = weft::spawn(s->accept_loop());
    return s;
  }

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  /// Stops accepting and ends every connection; awaits them all.
  weft::task<void> stop() {
    loop_.cancel();
    try {
      co_await loop_;
    } catch (...) {
    }
    std::vector<weft::join_handle<void>> conns;
    {
      std::lock_guard lk(m_);
      conns = std::move(conns_);
    }
    for (auto& c : conns) {
      c.cancel();
      try {
        co_await c;
      } catch (...) {
      }
    }
  }

  std::atomic<int> accepts{0};
  std::atomic<int> requests{0};
  std::atomic<int> in_handler{0};      // handlers running now
  std::atomic<int> max_in_handler{0};  // the most at once
  std::atomic<int> connections_open{0};

 private:
  test_server(handler h, std::shared_ptr<weft::io::tls_context> tls) : h_(std::move(h)), tls_(std::move(tls)) {
    listener_ = weft::io::tcp_listener::bind(weft::io::address::parse("127.0.0.1:0"));
    port_ = listener_.local_address().port();
  }

  weft::task<void> accept_loop() {
    for (;;) {
      weft::io::tcp_stream s = co_await listener_.accept();
      int id = ++accepts;
      std::lock_guard lk(m_);
      conns_.push_back(weft::spawn(serve(std::move(s), id)));
    }
  }

  weft::task<void> serve(weft::io::tcp_stream s, int id) {
    ++connections_open;
    struct closing {
      std::atomic<int>& n;
      ~closing() { --n; }
    } guard{connections_open};
    test_conn c;
    c.id = id;
    try {
      if (tls_) c.tls.emplace(co_await test_conn::tls_t::accept(std::move(s), *tls_, std::chrono::seconds(20)));
      else c.tcp.emplace(std::move(s));
      while (auto req = co_await c.next_request()) {
        ++requests;
        int now = ++in_handler;
        int seen = max_in_handler.load();
        while (now > seen && !max_in_handler.compare_exchange_weak(seen, now)) {
        }
        bool keep = false;
        std::exception_ptr failed;
        try {
          keep = co_await h_(c, *req);
        } catch (...) {
          failed = std::current_exception();
        }
        --in_handler;
        if (failed) std::rethrow_exception(failed);
        ++c.served;
        if (!keep) break;
      }
    } catch (...) {
      // The client went away, a TLS handshake failed, a script ended the
      // connection: all part of the tests, which assert on the client.
    }
  }

  handler h_;
  std::shared_ptr<weft::io::tls_context> tls_;
  weft::io::tcp_listener listener_;
  std::uint16_t port_ = 0;
  weft::join_handle<void> loop_;
  std::mutex m_;
  std::vector<weft::join_handle<void>> conns_;
};

// ------------------------------------------------------------ compressed bodies

/// zlib-compresses `in`: window_bits 31 gzip, 15 zlib-wrapped deflate, -15 raw.
inline std::string zip(std::string_view in, int window_bits) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(zs.total_out);
  return out;
}

inline std::string sample_text() {
  std::string s;
  for (int i = 0; i < 2000; ++i) s += "line " + std::to_string(i) + " of a compressible body\n";
  return s;
}

}  // namespace weft_test
