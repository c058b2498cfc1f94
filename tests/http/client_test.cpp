// weft::http::client against scripted raw-socket servers (http_test_server.hpp):
// keep-alive and pooling, redirects, gzip/deflate, chunked bodies, limits,
// misbehaving servers, timeouts, retries of dead pooled connections,
// per-host connection limits, cancellation, https, and bad input. The body
// decoder alone: content_decoder_test.cpp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "http_test_server.hpp"
#include "io_fault_support.hpp"
#include "test_pki.hpp"
#include "weft/http/client.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/sync/event.hpp"
#include "weft/runtime/time.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;
namespace http = weft::http;

namespace {

// ------------------------------------------------------------ helpers

/// How a client call ended, recorded so that tests assert after block_on.
struct result {
  std::optional<http::client_response> resp;
  std::optional<http::client_errc> err;
  bool timeout = false;
  bool cancelled = false;
  bool invalid = false;  // std::invalid_argument
  std::string what;

  int status() const { return resp ? resp->status : -1; }
  std::string body() const { return resp ? resp->body : std::string("<no response: ") + what + ">"; }
};

weft::task<result> outcome_of(weft::task<http::client_response> t) {
  result r;
  try {
    r.resp.emplace(co_await std::move(t));
  } catch (const http::client_error& e) {
    r.err = e.code();
    r.what = e.what();
  } catch (const weft::timeout_error& e) {
    r.timeout = true;
    r.what = e.what();
  } catch (const weft::operation_cancelled&) {
    r.cancelled = true;
  } catch (const std::invalid_argument& e) {
    r.invalid = true;
    r.what = e.what();
  } catch (const std::exception& e) {
    r.what = std::string("unexpected: ") + e.what();
  }
  co_return r;
}

/// Chunked encoding of `body` in pieces of `piece` bytes.
std::string chunked(std::string_view body, std::size_t piece) {
  std::string out;
  char hex[32];
  while (!body.empty()) {
    std::size_t n = std::min(piece, body.size());
    std::snprintf(hex, sizeof hex, "%zx", n);
    out += hex;
    out += "\r\n";
    out += body.substr(0, n);
    out += "\r\n";
    body.remove_prefix(n);
  }
  return out + "0\r\n\r\n";
}

template <class F>
void run(F&& body, weft::io_backend b = weft::io_backend::io_uring, unsigned workers = 2) {
  weft::runtime rt{io_options(b, workers)};
  rt.block_on(body());
}

/// A server answering every request with `body` (status 200) and echoing
/// what it saw in headers: method, target and request body length.
std::unique_ptr<test_server> echo_server() {
  return test_server::start([](test_conn& c, http::request& req) -> weft::task<bool> {
    std::string extra =
        "X-Method: " + req.method + "\r\nX-Target: " + req.target + "\r\nX-Conn: " + std::to_string(c.id) + "\r\n";
    std::string body = req.body.empty() ? std::string("ok") : req.body;  // not in the co_await (GCC 12)
    co_await c.send(response_bytes(200, body, extra));
    co_return true;
  });
}

}  // namespace

// ------------------------------------------------------------ basics

TEST_CASE("http client: 100 sequential GETs share one keep-alive connection", "[io][http][client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  std::vector<result> results;
  std::string host_seen, ua_seen, ae_seen;
  int accepts = 0;
  http::client_stats stats{};
  run(
      [&]() -> weft::task<void> {
        auto srv = test_server::start([&](test_conn& c, http::request& req) -> weft::task<bool> {
          if (c.served == 0) {
            host_seen = std::string(req.headers.get("Host").value_or(""));
            ua_seen = std::string(req.headers.get("User-Agent").value_or(""));
            ae_seen = std::string(req.headers.get("Accept-Encoding").value_or(""));
          }
          co_await c.send(response_bytes(200, "n=" + std::to_string(c.served), "X-Target: " + req.target + "\r\n"));
          co_return true;
        });
        {
          http::client cl;
          for (int i = 0; i < 100; ++i)
            results.push_back(co_await outcome_of(cl.get(srv->url("/item?i=" + std::to_string(i) + "#frag"))));
          stats = cl.stats();
        }
        accepts = srv->accepts.load();
        co_await srv->stop();
      },
      backend);
  REQUIRE(results.size() == 100);
  for (int i = 0; i < 100; ++i) {
    INFO(results[i].what);
    REQUIRE(results[i].status() == 200);
    CHECK(results[i].resp->body == "n=" + std::to_string(i));
    CHECK(results[i].resp->headers.get("X-Target") == "/item?i=" + std::to_string(i));
    CHECK(results[i].resp->redirects.empty());
  }
  CHECK(results[0].resp->url.find("#") == std::string::npos);
  CHECK(accepts == 1);
  CHECK(stats.requests == 100);
  CHECK(stats.connections_opened == 1);
  CHECK(stats.connections_reused == 99);
  CHECK(host_seen.rfind("127.0.0.1:", 0) == 0);
  CHECK(ua_seen == "weft/0.1");
  CHECK(ae_seen == "gzip, deflate");
}

TEST_CASE("http client: POST, HEAD, 204, interim 100, error statuses are responses", "[io][http][client]") {
  result post, head, no_content, interim, not_found, server_error, custom;
  std::string post_ct, custom_header;
  run([&]() -> weft::task<void> {
    auto srv = test_server::start([&](test_conn& c, http::request& req) -> weft::task<bool> {
      if (req.target == "/post") {
        post_ct = std::string(req.headers.get("Content-Type").value_or(""));
        co_await c.send(response_bytes(201, "got " + req.method + " " + req.body));
      } else if (req.target == "/head") {
        // HEAD: Content-Length says what a GET would get, no body follows.
        co_await c.send("HTTP/1.1 200 OK\r\nContent-Length: 12345\r\nContent-Encoding: gzip\r\n\r\n");
      } else if (req.target == "/204") {
        co_await c.send("HTTP/1.1 204 No Content\r\n\r\n");
      } else if (req.target == "/interim") {
        co_await c.send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
                        response_bytes(200, "final"));
      } else if (req.target == "/404") {
        co_await c.send(response_bytes(404, "nope", "", "Not Found"));
      } else if (req.target == "/500") {
        co_await c.send(response_bytes(500, "boom", "", "Internal Server Error"));
      } else {
        custom_header = req.method + " " + std::string(req.headers.get("X-Custom").value_or(""));
        co_await c.send(response_bytes(200, "custom"));
      }
      co_return true;
    });
    http::client cl;
    post = co_await outcome_of(cl.post(srv->url("/post"), "payload", "application/x-test"));
    head = co_await outcome_of(cl.request("HEAD", srv->url("/head")));
    no_content = co_await outcome_of(cl.get(srv->url("/204")));
    interim = co_await outcome_of(cl.get(srv->url("/interim")));
    not_found = co_await outcome_of(cl.get(srv->url("/404")));
    server_error = co_await outcome_of(cl.get(srv->url("/500")));
    http::request_options o;
    o.headers.add("X-Custom", "yes");
    custom = co_await outcome_of(cl.request("DELETE", srv->url("/x"), o));
    auto st = cl.stats();
    CHECK(st.connections_opened == 1);  // all on one connection (1 worker not needed: sequential)
    co_await srv->stop();
  });
  CHECK(post.status() == 201);
  CHECK(post.body() == "got POST payload");
  CHECK(post_ct == "application/x-test");
  CHECK(head.status() == 200);
  CHECK(head.body().empty());
  CHECK(head.resp->headers.get("Content-Encoding") == "gzip");  // nothing was decoded
  CHECK(head.resp->content_length == 12345u);
  CHECK(no_content.status() == 204);
  CHECK(interim.status() == 200);
  CHECK(interim.body() == "final");
  CHECK(not_found.status() == 404);
  CHECK(not_found.resp->reason == "Not Found");
  CHECK(not_found.body() == "nope");
  CHECK(server_error.status() == 500);
  CHECK(custom.status() == 200);
  CHECK(custom_header == "DELETE yes");
}

// ------------------------------------------------------------ redirects

TEST_CASE("http client: redirects", "[io][http][client]") {
  result rel, abs, see_other, temp, loop, chain, not_followed, override_limit, cross;
  std::vector<std::string> log;  // "METHOD target body" as the server saw them (1 worker)
  std::string cross_auth = "unset";
  run(
      [&]() -> weft::task<void> {
        auto other = test_server::start([&](test_conn& c, http::request& req) -> weft::task<bool> {
          cross_auth = std::string(req.headers.get("Authorization").value_or("none"));
          co_await c.send(response_bytes(200, "other " + req.target));
          co_return true;
        });
        const std::string other_url = other->url("/landing");
        auto srv = test_server::start([&](test_conn& c, http::request& req) -> weft::task<bool> {
          log.push_back(req.method + " " + req.target + " " + req.body);
          const std::string& t = req.target;
          std::string to;
          int status = 302;
          if (t == "/rel") to = "sub/there?q=1#frag";
          else if (t == "/sub/there?q=1") to = "";
          else if (t == "/abs") to = "http://127.0.0.1:" + std::to_string(c.tcp->local_address().port()) + "/final";
          else if (t == "/303") {
            to = "/final";
            status = 303;
          } else if (t == "/307") {
            to = "/final";
            status = 307;
          } else if (t == "/loop-a") to = "/loop-b";
          else if (t == "/loop-b") to = "/loop-a";
          else if (t.rfind("/chain/", 0) == 0) to = "/chain/" + std::to_string(std::stoi(t.substr(7)) + 1);
          else if (t == "/cross") to = other_url;
          if (to.empty()) co_await c.send(response_bytes(200, "at " + t + " " + req.method + " " + req.body));
          else co_await c.send(response_bytes(status, "moving", "Location: " + to + "\r\n"));
          co_return true;
        });
        http::client cl;
        rel = co_await outcome_of(cl.get(srv->url("/rel")));
        abs = co_await outcome_of(cl.get(srv->url("/abs")));
        log.clear();
        see_other = co_await outcome_of(cl.post(srv->url("/303"), "data", "text/plain"));
        auto log_303 = log;
        temp = co_await outcome_of(cl.post(srv->url("/307"), "data", "text/plain"));
        loop = co_await outcome_of(cl.get(srv->url("/loop-a")));
        chain = co_await outcome_of(cl.get(srv->url("/chain/0")));
        // Options in variables: GCC 12 miscompiles braced temporaries in a
        // co_await expression (see client.hpp).
        http::request_options no_follow;
        no_follow.max_redirects = 0;
        not_followed = co_await outcome_of(cl.get(srv->url("/rel"), no_follow));
        http::request_options two;
        two.max_redirects = 2;
        override_limit = co_await outcome_of(cl.get(srv->url("/chain/0"), two));
        http::request_options o;
        o.headers.add("Authorization", "Bearer secret");
        cross = co_await outcome_of(cl.get(srv->url("/cross"), o));
        CHECK(log_303.size() == 2);
        if (log_303.size() == 2) {
          CHECK(log_303[0] == "POST /303 data");
          CHECK(log_303[1] == "GET /final ");
        }
        co_await srv->stop();
        co_await other->stop();
      },
      weft::io_backend::io_uring, 1);
  REQUIRE(rel.status() == 200);
  CHECK(rel.body() == "at /sub/there?q=1 GET ");
  CHECK(rel.resp->url.find("/sub/there?q=1") != std::string::npos);
  CHECK(rel.resp->url.find('#') == std::string::npos);
  REQUIRE(rel.resp->redirects.size() == 1);
  CHECK(rel.resp->redirects[0].find("/rel") != std::string::npos);
  CHECK(abs.status() == 200);
  CHECK(abs.body() == "at /final GET ");
  CHECK(see_other.status() == 200);
  CHECK(see_other.body() == "at /final GET ");
  CHECK(temp.status() == 200);
  CHECK(temp.body() == "at /final POST data");
  CHECK(loop.err == http::client_errc::redirect_loop);
  CHECK(loop.what.find("/loop-a") != std::string::npos);
  CHECK(chain.err == http::client_errc::too_many_redirects);
  CHECK(not_followed.status() == 302);
  CHECK(not_followed.resp->headers.get("Location") == "sub/there?q=1#frag");
  CHECK(override_limit.err == http::client_errc::too_many_redirects);
  CHECK(override_limit.what.find("more than 2 redirects") != std::string::npos);
  CHECK(cross.status() == 200);
  CHECK(cross.body() == "other /landing");
  CHECK(cross_auth == "none");
}

// ------------------------------------------------------------ encodings and framing

TEST_CASE("http client: gzip and deflate bodies are decoded, bombs and corruption are errors", "[io][http][client]") {
  const std::string text = sample_text();
  const std::string gz = zip(text, 31);
  const std::string zl = zip(text, 15);
  const std::string raw = zip(text, -15);
  const std::string bomb = zip(std::string(16 << 20, '\0'), 31);
  std::string corrupt = gz;
  corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x55);
  corrupt[corrupt.size() / 2 + 1] = static_cast<char>(corrupt[corrupt.size() / 2 + 1] ^ 0x55);
  const std::string truncated = gz.substr(0, gz.size() / 2);
  result r_gz, r_zl, r_raw, r_chunked_gz, r_corrupt, r_trunc, r_bomb, r_undecoded, r_unknown;
  run([&]() -> weft::task<void> {
    auto srv = test_server::start([&](test_conn& c, http::request& req) -> weft::task<bool> {
      const std::string& t = req.target;
      if (t == "/gzip") co_await c.send(response_bytes(200, gz, "Content-Encoding: gzip\r\n"));
      else if (t == "/zlib") co_await c.send(response_bytes(200, zl, "Content-Encoding: deflate\r\n"));
      else if (t == "/raw") co_await c.send(response_bytes(200, raw, "Content-Encoding: deflate\r\n"));
      else if (t == "/chunked-gzip")
        co_await c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: x-gzip\r\n\r\n" +
                        chunked(gz, 333));
      else if (t == "/corrupt") co_await c.send(response_bytes(200, corrupt, "Content-Encoding: gzip\r\n"));
      else if (t == "/truncated") co_await c.send(response_bytes(200, truncated, "Content-Encoding: gzip\r\n"));
      else if (t == "/bomb") co_await c.send(response_bytes(200, bomb, "Content-Encoding: gzip\r\n"));
      else co_await c.send(response_bytes(200, "abc", "Content-Encoding: br\r\n"));
      co_return true;
    });
    http::client cl{{.max_response_bytes = 1 << 20}};
    r_gz = co_await outcome_of(cl.get(srv->url("/gzip")));
    r_zl = co_await outcome_of(cl.get(srv->url("/zlib")));
    r_raw = co_await outcome_of(cl.get(srv->url("/raw")));
    r_chunked_gz = co_await outcome_of(cl.get(srv->url("/chunked-gzip")));
    r_corrupt = co_await outcome_of(cl.get(srv->url("/corrupt")));
    r_trunc = co_await outcome_of(cl.get(srv->url("/truncated")));
    r_bomb = co_await outcome_of(cl.get(srv->url("/bomb")));
    r_unknown = co_await outcome_of(cl.get(srv->url("/br")));
    http::client plain{{.decompress = false}};
    r_undecoded = co_await outcome_of(plain.get(srv->url("/gzip")));
    co_await srv->stop();
  });
  REQUIRE(r_gz.status() == 200);
  CHECK(r_gz.body() == text);
  CHECK_FALSE(r_gz.resp->headers.contains("Content-Encoding"));
  CHECK(r_gz.resp->content_length == text.size());
  CHECK(r_zl.body() == text);
  CHECK(r_raw.body() == text);
  CHECK(r_chunked_gz.body() == text);
  CHECK(r_corrupt.err == http::client_errc::bad_encoding);
  CHECK(r_corrupt.what.find("/corrupt") != std::string::npos);
  CHECK(r_trunc.err == http::client_errc::bad_encoding);
  CHECK(r_bomb.err == http::client_errc::response_too_large);
  CHECK(r_unknown.body() == "abc");
  CHECK(r_unknown.resp->headers.get("Content-Encoding") == "br");
  CHECK(r_undecoded.body() == gz);
  CHECK(r_undecoded.resp->headers.get("Content-Encoding") == "gzip");
}

TEST_CASE("http client: chunked, until-close and oversized bodies", "[io][http][client]") {
  const std::string big(300000, 'b');
  result r_chunked, r_close, r_cap_length, r_cap_chunked, r_cap_close, after;
  run([&]() -> weft::task<void> {
    auto srv = test_server::start([&](test_conn& c, http::request& req) -> weft::task<bool> {
      const std::string& t = req.target;
      if (t == "/chunked") {
        co_await c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(big, 7000).substr(0, 100));
        co_await c.send(chunked(big, 7000).substr(100));
        co_return true;
      }
      if (t == "/close") {
        co_await c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big);
        co_return false;
      }
      if (t == "/cap-length") {
        co_await c.send("HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\nabc");
        co_return false;
      }
      if (t == "/cap-chunked") {
        co_await c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(big, 10000));
        co_return false;
      }
      if (t == "/cap-close") {
        co_await c.send("HTTP/1.1 200 OK\r\n\r\n" + big);
        co_return false;
      }
      co_await c.send(response_bytes(200, "fine"));
      co_return true;
    });
    http::client cl;
    r_chunked = co_await outcome_of(cl.get(srv->url("/chunked")));
    r_close = co_await outcome_of(cl.get(srv->url("/close")));
    http::client small{{.max_response_bytes = 100000}};
    r_cap_length = co_await outcome_of(small.get(srv->url("/cap-length")));
    r_cap_chunked = co_await outcome_of(small.get(srv->url("/cap-chunked")));
    r_cap_close = co_await outcome_of(small.get(srv->url("/cap-close")));
    after = co_await outcome_of(small.get(srv->url("/")));
    co_await srv->stop();
  });
  CHECK(r_chunked.status() == 200);
  CHECK(r_chunked.body() == big);
  CHECK(r_close.body() == big);
  CHECK(r_cap_length.err == http::client_errc::response_too_large);
  CHECK(r_cap_chunked.err == http::client_errc::response_too_large);
  CHECK(r_cap_close.err == http::client_errc::response_too_large);
  CHECK(after.body() == "fine");  // the failed ones did not poison the pool
}

// ------------------------------------------------------------ misbehaving servers

TEST_CASE("http client: servers that close, babble, stall or send huge heads", "[io][http][client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  result mid_body, garbage, huge_head, read_stall, slow_drip, before_response_post, after;
  run(
      [&]() -> weft::task<void> {
        auto srv = test_server::start([&](test_conn& c, http::request& req) -> weft::task<bool> {
          const std::string& t = req.target;
          if (t == "/mid-body") {
            co_await c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly a part");
            co_return false;
          }
          if (t == "/garbage") {
            co_await c.send("SMTP READY\r\n\r\n");
            co_return false;
          }
          if (t == "/huge-head") {
            co_await c.send("HTTP/1.1 200 OK\r\nX-Big: " + std::string(200000, 'h') + "\r\n\r\n");
            co_await c.wait_for_close();
            co_return false;
          }
          if (t == "/stall") {
            co_await c.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
            co_await c.wait_for_close();
            co_return false;
          }
          if (t == "/drip") {
            co_await c.send("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
            for (int i = 0; i < 2000; ++i) {
              co_await c.send("x");
              co_await weft::sleep_for(20ms);
            }
            co_return false;
          }
          if (t == "/close-before") co_return false;  // says nothing
          co_await c.send(response_bytes(200, "fine"));
          co_return true;
        });
        http::client cl{{.request_timeout = 20s, .read_timeout = 20s}};
        mid_body = co_await outcome_of(cl.get(srv->url("/mid-body")));
        garbage = co_await outcome_of(cl.get(srv->url("/garbage")));
        huge_head = co_await outcome_of(cl.get(srv->url("/huge-head")));
        http::client impatient{{.request_timeout = 20s, .read_timeout = 200ms}};
        read_stall = co_await outcome_of(impatient.get(srv->url("/stall")));
        http::request_options quick;
        quick.timeout = 300ms;
        slow_drip = co_await outcome_of(cl.get(srv->url("/drip"), quick));
        before_response_post = co_await outcome_of(cl.post(srv->url("/close-before"), "x", "text/plain"));
        after = co_await outcome_of(cl.get(srv->url("/")));
        co_await srv->stop();
      },
      backend);
  CHECK(mid_body.err == http::client_errc::connection_closed);
  CHECK(garbage.err == http::client_errc::protocol);
  CHECK(huge_head.err == http::client_errc::protocol);
  CHECK(huge_head.what.find("headers_too_large") != std::string::npos);
  CHECK(read_stall.timeout);
  CHECK(read_stall.what.find("read timeout (200 ms)") != std::string::npos);
  CHECK(read_stall.what.find("/stall") != std::string::npos);
  CHECK(slow_drip.timeout);
  CHECK(slow_drip.what.find("request timeout (300 ms)") != std::string::npos);
  CHECK(before_response_post.err == http::client_errc::connection_closed);
  CHECK(after.body() == "fine");
}

TEST_CASE("http client: bad URLs, schemes, methods, headers and refused connections", "[io][http][client]") {
  std::vector<std::pair<std::string, result>> urls;
  result refused, set_length;
  run([&]() -> weft::task<void> {
    // A port nobody listens on: bind one, note it, close it.
    std::uint16_t dead_port = 0;
    {
      auto l = io::tcp_listener::bind(io::address::parse("127.0.0.1:0"));
      dead_port = l.local_address().port();
    }
    http::client cl{{.connect_timeout = 20s}};
    for (std::string u :
         {"example.com/x", "http://", "http:///path", "http://host:99999/", "http://a b/", "not a url at all",
          "ftp://127.0.0.1/file", "mailto:someone@example.com", "http://user:pw@127.0.0.1/"})
      urls.emplace_back(u, co_await outcome_of(cl.get(u)));
    refused = co_await outcome_of(cl.get("http://127.0.0.1:" + std::to_string(dead_port) + "/"));
    http::request_options o3;
    o3.headers.add("Content-Length", "5");
    set_length = co_await outcome_of(cl.get("http://127.0.0.1:1/", o3));
  });
  for (auto& [u, r] : urls) {
    INFO(u << " -> " << r.what);
    bool unsupported = u.rfind("ftp:", 0) == 0 || u.rfind("mailto:", 0) == 0;
    CHECK(r.err == (unsupported ? http::client_errc::unsupported_scheme : http::client_errc::bad_url));
    CHECK(r.what.find(u) != std::string::npos);
  }
  CHECK(refused.err == http::client_errc::connect);
  CHECK(refused.what.find("refused") != std::string::npos);
  CHECK(set_length.invalid);
  CHECK_THROWS_AS(http::client({.max_connections_per_host = 0}), std::invalid_argument);
}

TEST_CASE("http client: a method or header that could split the request is refused before anything is sent",
          "[io][http][client]") {
  using namespace std::string_literals;
  const std::vector<std::string> methods = {"GET /x HTTP/1.1\r\nX: y", "GE T", "GET\n", "GET\0"s, "", "GET(1)"};
  const std::vector<std::pair<std::string, std::string>> fields = {{"X-Bad\r", "v"},
                                                                   {"X-Bad\nEvil", "v"},
                                                                   {"X-Bad\0"s, "v"},
                                                                   {"Bad Name", "v"},
                                                                   {"X-Colon:", "v"},
                                                                   {"", "v"},
                                                                   {"X-Inject", "a\r\nEvil: 1"},
                                                                   {"X-Inject", "a\rb"},
                                                                   {"X-Inject", "a\nb"},
                                                                   {"X-Inject", "a\0b"s}};
  std::vector<result> bad_methods, bad_fields;
  result good;
  int accepts_before_good = -1;
  run([&]() -> weft::task<void> {
    auto srv = echo_server();
    http::client cl;
    for (const std::string& m : methods) bad_methods.push_back(co_await outcome_of(cl.request(m, srv->url("/"))));
    for (const auto& [name, value] : fields) {
      // headers::add may refuse the field itself; else the client must.
      result r;
      try {
        http::request_options o;
        o.headers.add(name, value);
        r = co_await outcome_of(cl.get(srv->url("/"), o));
      } catch (const std::invalid_argument& e) {
        r.invalid = true;
        r.what = e.what();
      }
      bad_fields.push_back(std::move(r));
    }
    accepts_before_good = srv->accepts.load();
    http::request_options o;
    o.headers.add("X-Fine_Name.1~", "tabs\tand spaces are fine");
    good = co_await outcome_of(cl.request("M-SEARCH", srv->url("/"), o));
    co_await srv->stop();
  });
  for (std::size_t i = 0; i < methods.size(); ++i) {
    const result& r = bad_methods[i];
    INFO("method #" << i << ": " << r.what);
    CHECK(r.invalid);
    CHECK(r.what.find("bad method") != std::string::npos);
    CHECK(r.what.find("not a token") != std::string::npos);
    CHECK(r.what.find_first_of("\r\n"s + '\0') == std::string::npos);  // shown escaped
  }
  CHECK(bad_methods[0].what.find("\"GET /x HTTP/1.1\\r\\nX: y\"") != std::string::npos);
  CHECK(bad_methods[3].what.find("\"GET\\x00\"") != std::string::npos);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const result& r = bad_fields[i];
    INFO("field " << i << ": " << r.what);
    CHECK(r.invalid);
    CHECK(r.what.find(fields[i].first.substr(0, 5)) != std::string::npos);  // names the field
    CHECK(r.what.find_first_of("\r\n"s + '\0') == std::string::npos);
  }
  CHECK(accepts_before_good == 0);  // not even a connection was opened
  CHECK(good.status() == 200);
  CHECK(good.resp->headers.get("X-Method") == "M-SEARCH");
}

TEST_CASE("http client: connect_timeout covers a connect the server never answers", "[io][http][client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  // A listener with a backlog of 0 that never accepts: one connection fills
  // its queue, and the kernel drops the SYNs of the next ones unanswered.
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(lfd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), len) == 0);
  REQUIRE(::listen(lfd, 0) == 0);
  REQUIRE(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(::connect(filler, reinterpret_cast<sockaddr*>(&a), len) == 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/";
  result hung;
  auto started = std::chrono::steady_clock::now();
  run(
      [&]() -> weft::task<void> {
        http::client cl{{.connect_timeout = 200ms}};
        hung = co_await outcome_of(cl.get(url));
      },
      backend);
  const auto took = std::chrono::steady_clock::now() - started;
  ::close(filler);
  ::close(lfd);
  CHECK(hung.timeout);
  CHECK(hung.what.find("connect timeout (200 ms)") != std::string::npos);
  CHECK(hung.what.find(url) != std::string::npos);
  CHECK(took < 10s);  // not the kernel's own SYN retries (over a minute)
}

// ------------------------------------------------------------ pooling

TEST_CASE("http client: a pooled connection closed by the server is retried once (idempotent only)",
          "[io][http][client]") {
  result first, retried_get, first_post, failed_post, head_retry;
  http::client_stats stats{};
  int accepts = 0;
  run([&]() -> weft::task<void> {
    // Answers the first request on each connection, keep-alive promised,
    // and closes on the second without a word: the pooled connection was
    // quiet when taken and dies only once the request is on it.
    auto srv = test_server::start([&](test_conn& c, http::request& req) -> weft::task<bool> {
      if (c.served > 0) co_return false;
      co_await c.send(response_bytes(200, req.method + " on " + std::to_string(c.id)));
      co_return true;
    });
    http::client cl;
    first = co_await outcome_of(cl.get(srv->url("/")));
    retried_get = co_await outcome_of(cl.get(srv->url("/")));
    failed_post = co_await outcome_of(cl.post(srv->url("/"), "x", "text/plain"));
    first_post = co_await outcome_of(cl.post(srv->url("/"), "x", "text/plain"));
    head_retry = co_await outcome_of(cl.request("HEAD", srv->url("/")));
    stats = cl.stats();
    accepts = srv->accepts.load();
    co_await srv->stop();
  });
  CHECK(first.body() == "GET on 1");
  CHECK(retried_get.body() == "GET on 2");
  CHECK(failed_post.err == http::client_errc::connection_closed);
  CHECK(failed_post.what.find("reused connection") != std::string::npos);
  CHECK(first_post.body() == "POST on 3");
  CHECK(head_retry.status() == 200);
  CHECK(stats.connections_reused == 3);  // the dying ones, each tried once
  CHECK(accepts == 4);
}

TEST_CASE("http client: a pooled connection that received anything while idle is never reused", "[io][http][client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  const bool tls = GENERATE(false, true);
  INFO((tls ? "https" : "http"));
  // What a misbehaving server writes after its answer: a whole response, so
  // that a client reusing the connection would take it for the answer to
  // its next request.
  const std::string smuggled = response_bytes(200, "SMUGGLED");
  struct scenario {
    std::string path;    // what the server does after answering
    std::string method;  // of the first request
    std::string then;    // the method of the next one
  };
  const std::vector<scenario> scenarios = {
      {"/head-body", "HEAD", "GET"},           // (a) a body after a HEAD answer, 50 ms later
      {"/head-body-together", "HEAD", "GET"},  // the same in one segment (TLS: read with the answer)
      {"/204-body", "GET", "GET"},             // (b) a body after a 204
      {"/unsolicited", "GET", "GET"},          // (c) a second response nobody asked for, 50 ms later
      {"/close", "GET", "POST"},               // (d) the server closes the idle connection (a POST
                                               //     is not retried: only the check saves it)
  };
  struct outcome {
    result first, next, after;
    http::client_stats stats{};
  };
  std::vector<outcome> outcomes;
  std::mutex m;
  std::map<std::string, int> conn_of;  // target -> the server's connection id
  run(
      [&]() -> weft::task<void> {
        std::atomic<int> misdeeds{0};  // done by the server
        auto handler = [&](test_conn& c, http::request& req) -> weft::task<bool> {
          {
            std::lock_guard lk(m);
            conn_of[req.target] = c.id;
          }
          const std::string& t = req.target;
          io::tcp_stream& sock = c.tls ? c.tls->next_layer() : *c.tcp;
          if (t == "/head-body") {
            co_await c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n");
            co_await weft::sleep_for(50ms);
            co_await c.send(smuggled);
          } else if (t == "/head-body-together") {
            // Corked, the two writes (two TLS records) arrive as one: the
            // client's TLS layer reads both with the answer and keeps the
            // second, where no poll of the socket sees it.
            sock.set_option(IPPROTO_TCP, TCP_CORK, 1);
            co_await c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n");
            co_await c.send(smuggled);
            sock.set_option(IPPROTO_TCP, TCP_CORK, 0);
          } else if (t == "/204-body") {
            co_await c.send("HTTP/1.1 204 No Content\r\n\r\n");
            co_await weft::sleep_for(50ms);
            co_await c.send(smuggled);
          } else if (t == "/unsolicited") {
            co_await c.send(response_bytes(200, "first"));
            co_await weft::sleep_for(50ms);
            co_await c.send(smuggled);
          } else if (t == "/close") {
            co_await c.send(response_bytes(200, "first"));
            sock.shutdown();  // a FIN, no close_notify
            ++misdeeds;
            co_return false;
          } else {
            co_await c.send(response_bytes(200, "real " + req.method + " " + t));
            co_return true;
          }
          ++misdeeds;
          co_return true;
        };
        std::unique_ptr<test_server> srv;
        http::client_options o;
        if (tls) {
          srv = test_server::start(handler, std::make_shared<io::tls_context>(io::tls_server_options{
                                                .cert_pem = pki().server.cert, .key_pem = pki().server.key}));
          o.tls.ca_pem = pki().ca;
        } else {
          srv = test_server::start(handler);
        }
        for (const scenario& s : scenarios) {
          http::client cl{o};
          outcome out;
          const int before = misdeeds.load();
          out.first = co_await outcome_of(cl.request(s.method, srv->url(s.path)));
          for (int i = 0; i < 2000 && misdeeds.load() == before; ++i) co_await weft::sleep_for(5ms);
          co_await weft::sleep_for(100ms);  // for the bytes or the FIN to reach our socket
          out.next = co_await outcome_of(cl.request(s.then, srv->url("/next" + s.path)));
          out.after = co_await outcome_of(cl.get(srv->url("/after" + s.path)));
          out.stats = cl.stats();
          outcomes.push_back(std::move(out));
        }
        co_await srv->stop();
      },
      backend);
  REQUIRE(outcomes.size() == scenarios.size());
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const scenario& s = scenarios[i];
    const outcome& out = outcomes[i];
    INFO(s.path << ": " << out.first.what << " / " << out.next.what << " / " << out.after.what);
    CHECK(out.first.status() == (s.path == "/204-body" ? 204 : 200));
    CHECK(out.first.body() == (s.method == "HEAD" || s.path == "/204-body" ? "" : "first"));
    // The real answer to the real request, from a new connection...
    CHECK(out.next.status() == 200);
    CHECK(out.next.body() == "real " + s.then + " /next" + s.path);
    CHECK(conn_of["/next" + s.path] != conn_of[s.path]);
    // ...which, answered properly, is reused.
    CHECK(out.after.body() == "real GET /after" + s.path);
    CHECK(conn_of["/after" + s.path] == conn_of["/next" + s.path]);
    CHECK(out.stats.connections_opened == 2);
    CHECK(out.stats.connections_reused == 1);
  }
}

TEST_CASE("http client: max_connections_per_host holds under 20 concurrent requests", "[io][http][client]") {
  std::vector<result> results;
  int max_in_handler = 0, accepts = 0;
  run([&]() -> weft::task<void> {
    auto srv = test_server::start([&](test_conn& c, http::request&) -> weft::task<bool> {
      co_await weft::sleep_for(20ms);  // overlap the requests
      co_await c.send(response_bytes(200, "ok"));
      co_return true;
    });
    http::client cl{{.max_connections_per_host = 3}};
    std::vector<weft::join_handle<result>> jobs;
    for (int i = 0; i < 20; ++i) jobs.push_back(weft::spawn(outcome_of(cl.get(srv->url("/")))));
    for (auto& j : jobs) results.push_back(co_await j);
    max_in_handler = srv->max_in_handler.load();
    accepts = srv->accepts.load();
    co_await srv->stop();
  });
  for (auto& r : results) CHECK(r.body() == "ok");
  CHECK(max_in_handler <= 3);
  CHECK(max_in_handler >= 1);
  CHECK(accepts <= 3);
}

TEST_CASE("http client: pool_timeout bounds the wait for a busy host's connection", "[io][http][client]") {
  result holder, patient_less, after;
  run([&]() -> weft::task<void> {
    weft::event release;
    auto srv = test_server::start([&](test_conn& c, http::request& req) -> weft::task<bool> {
      if (req.target == "/hold") co_await release.wait();
      co_await c.send(response_bytes(200, "done " + req.target));
      co_return true;
    });
    http::client cl{{.max_connections_per_host = 1, .pool_timeout = 100ms}};
    auto h = weft::spawn(outcome_of(cl.get(srv->url("/hold"))));
    co_await weft::sleep_for(50ms);
    patient_less = co_await outcome_of(cl.get(srv->url("/waiting")));
    release.set();
    holder = co_await h;
    after = co_await outcome_of(cl.get(srv->url("/after")));  // the slot came back
    co_await srv->stop();
  });
  CHECK(patient_less.timeout);
  CHECK(patient_less.what.find("pool timeout (100 ms)") != std::string::npos);
  CHECK(patient_less.what.find("/waiting") != std::string::npos);
  CHECK(holder.body() == "done /hold");
  CHECK(after.body() == "done /after");
}

TEST_CASE("http client: cancelling a request waiting for a pool slot frees nothing it did not take",
          "[io][http][client]") {
  result holder, waiter, in_flight, later;
  run([&]() -> weft::task<void> {
    weft::event release;
    auto srv = test_server::start([&](test_conn& c, http::request& req) -> weft::task<bool> {
      if (req.target == "/hold") co_await release.wait();
      if (req.target == "/stall") {
        co_await c.wait_for_close();
        co_return false;
      }
      co_await c.send(response_bytes(200, "done " + req.target));
      co_return true;
    });
    http::client cl{{.max_connections_per_host = 1}};
    auto h = weft::spawn(outcome_of(cl.get(srv->url("/hold"))));
    co_await weft::sleep_for(50ms);
    auto w = weft::spawn(outcome_of(cl.get(srv->url("/waiting"))));
    co_await weft::sleep_for(50ms);
    w.cancel();
    waiter = co_await w;
    release.set();
    holder = co_await h;
    // Cancelling the request that holds the slot closes its connection and
    // returns the slot.
    auto f = weft::spawn(outcome_of(cl.get(srv->url("/stall"))));
    co_await weft::sleep_for(50ms);
    f.cancel();
    in_flight = co_await f;
    later = co_await outcome_of(cl.get(srv->url("/later")));
    co_await srv->stop();
  });
  CHECK(waiter.cancelled);
  CHECK(holder.body() == "done /hold");
  CHECK(in_flight.cancelled);
  CHECK(later.body() == "done /later");
}

TEST_CASE("http client: idle_timeout and close_idle retire pooled connections", "[io][http][client]") {
  int accepts_after_idle = 0, accepts_after_close = 0, accepts_reused = 0;
  run([&]() -> weft::task<void> {
    auto srv = echo_server();
    http::client cl{{.idle_timeout = 30ms}};
    (void)co_await outcome_of(cl.get(srv->url("/")));
    (void)co_await outcome_of(cl.get(srv->url("/")));
    accepts_reused = srv->accepts.load();
    co_await weft::sleep_for(100ms);
    (void)co_await outcome_of(cl.get(srv->url("/")));
    accepts_after_idle = srv->accepts.load();
    cl.close_idle();
    (void)co_await outcome_of(cl.get(srv->url("/")));
    accepts_after_close = srv->accepts.load();
    co_await srv->stop();
  });
  // The second request may or may not beat the 30 ms: at most one more.
  CHECK(accepts_reused <= 2);
  CHECK(accepts_after_idle == accepts_reused + 1);
  CHECK(accepts_after_close == accepts_after_idle + 1);
}

// ------------------------------------------------------------ https

TEST_CASE("http client: https verifies the server against the trust store and tls.ca_pem", "[io][http][client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  result untrusted, trusted, again;
  http::client_stats stats{};
  run(
      [&]() -> weft::task<void> {
        auto ctx = std::make_shared<io::tls_context>(
            io::tls_server_options{.cert_pem = pki().server.cert, .key_pem = pki().server.key});
        auto srv = test_server::start(
            [&](test_conn& c, http::request& req) -> weft::task<bool> {
              co_await c.send(response_bytes(200, "secure " + req.target, "Content-Type: text/plain\r\n"));
              co_return true;
            },
            ctx);
        {
          http::client strict;
          untrusted = co_await outcome_of(strict.get(srv->url("/a")));
        }
        http::client_options o;
        o.tls.ca_pem = pki().ca;
        http::client cl{o};
        trusted = co_await outcome_of(cl.get(srv->url("/b")));
        again = co_await outcome_of(cl.get("https://localhost:" + std::to_string(srv->port()) + "/c"));
        stats = cl.stats();
        co_await srv->stop();
      },
      backend);
  CHECK(untrusted.err == http::client_errc::tls);
  CHECK(untrusted.what.find("verify") != std::string::npos);
  CHECK(trusted.body() == "secure /b");
  CHECK(trusted.resp->url.rfind("https://127.0.0.1:", 0) == 0);
  CHECK(again.body() == "secure /c");
  CHECK(stats.connections_opened == 2);  // 127.0.0.1 and localhost are two pools
}

// ------------------------------------------------------------ decoder
