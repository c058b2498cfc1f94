// parallel_download: fetch many URLs at once with weft::http::client,
// at most N in flight, each result printed as it completes.
//
//   parallel_download [--concurrency N] [--timeout 30s] [--file F] URL...
//   parallel_download --quick            # self-test against a local server
//
// The concurrent.futures pattern (a ThreadPoolExecutor running urlopen,
// as_completed over the futures) with coroutines: one spawned task per URL,
// a weft::semaphore bounding how many download at once, weft::as_completed
// yielding them in the order they finish. One http::client is shared, so
// URLs on the same host reuse its keep-alive connections. HTTP error
// statuses (404, 500) are results, not failures; a URL that cannot be
// fetched (bad URL, refused, timeout, TLS) prints its error. Exit code 0
// when every URL was fetched (whatever the status), 1 otherwise, 2 for a
// bad command line. --quick checks its own results and exits 0 or 1.
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../common/cli.hpp"
#include "weft/http/client.hpp"
#include "weft/weft.hpp"

namespace http = weft::http;
namespace io = weft::io;
using namespace std::chrono_literals;

namespace {

/// URLs from a file, one a line; blank lines and '#' comments skipped.
/// Throws CLI::ValidationError when the file cannot be read.
std::vector<std::string> read_urls(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CLI::ValidationError("--file", "cannot read '" + path + "'");
  std::vector<std::string> urls;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    urls.push_back(line.substr(start));
  }
  return urls;
}

/// One URL's outcome.
struct fetched {
  std::optional<http::client_response> response;
  std::string error;  // when there is no response
  double ms = 0;
};

/// One download, once a slot is free: the semaphore plays the pool's part.
weft::task<fetched> download(http::client& client, weft::semaphore& slots, std::string url,
                             std::chrono::milliseconds timeout) {
  co_await slots.acquire();
  struct release {
    weft::semaphore& s;
    ~release() { s.release(); }
  } guard{slots};
  fetched f;
  const auto t0 = weft::clock::now();
  http::request_options o;  // a variable, not a braced temporary (see client.hpp)
  o.timeout = timeout;
  try {
    f.response.emplace(co_await client.get(std::move(url), o));
  } catch (const http::client_error& e) {
    f.error = std::string(http::to_string(e.code())) + ": " + e.what();
  } catch (const weft::timeout_error& e) {
    f.error = std::string("timeout: ") + e.what();
  }
  f.ms = std::chrono::duration<double, std::milli>(weft::clock::now() - t0).count();
  co_return f;
}

struct summary {
  std::vector<fetched> results;  // in input order
  std::size_t ok = 0, http_errors = 0, failed = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
};

weft::task<summary> download_all(const std::vector<std::string>& urls, std::size_t concurrency,
                                 std::chrono::milliseconds timeout) {
  http::client client;
  weft::semaphore slots{concurrency};
  summary s;
  s.results.resize(urls.size());
  const auto t0 = weft::clock::now();
  std::vector<weft::join_handle<fetched>> jobs;
  for (const std::string& u : urls) jobs.push_back(weft::spawn(download(client, slots, u, timeout)));
  auto stream = weft::as_completed(std::move(jobs));
  while (auto done = co_await stream.next()) {
    fetched f = co_await done->handle;
    const std::string& url = urls[done->index];
    if (f.response) {
      const auto& r = *f.response;
      (r.status >= 400 ? s.http_errors : s.ok) += 1;
      s.bytes += r.body.size();
      fmt::print("{:3} {:10} B {:7.1f} ms  {}{}\n", r.status, r.body.size(), f.ms, url,
                 r.redirects.empty() ? "" : "  -> " + r.url);
    } else {
      ++s.failed;
      fmt::print("ERR {:12} {:7.1f} ms  {}\n", "", f.ms, f.error);
    }
    std::fflush(stdout);
    s.results[done->index] = std::move(f);
  }
  s.seconds = std::chrono::duration<double>(weft::clock::now() - t0).count();
  auto st = client.stats();
  fmt::print("\n{} URLs: {} ok, {} HTTP errors (status >= 400), {} failed; {:.1f} KiB in {:.3f} s ({:.1f} MiB/s)\n",
             urls.size(), s.ok, s.http_errors, s.failed, static_cast<double>(s.bytes) / 1024, s.seconds,
             s.seconds > 0 ? static_cast<double>(s.bytes) / (1 << 20) / s.seconds : 0.0);
  fmt::print("{} requests, {} connections opened, {} reused, {} redirects followed\n", st.requests,
             st.connections_opened, st.connections_reused, st.redirects_followed);
  co_return s;
}

// ------------------------------------------------------------------ --quick

/// The local server's answers: /file/N is N KiB of a known pattern,
/// /slow waits 100 ms, /old redirects to /file/1, anything else is 404.
/// It counts the requests it is handling at once.
struct quick_server {
  std::atomic<int> in_flight{0}, max_in_flight{0};

  static std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
  }

  weft::task<std::string> answer(const http::request& req) {
    const std::string& t = req.target;
    int now = ++in_flight;
    for (int seen = max_in_flight.load(); now > seen && !max_in_flight.compare_exchange_weak(seen, now);) {
    }
    co_await weft::sleep_for(10ms);  // some work, so that downloads overlap
    --in_flight;
    auto reply = [](int status, std::string_view reason, const std::string& body, std::string_view extra = {}) {
      return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
             "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + std::string(extra) + "\r\n" + body;
    };
    if (t.rfind("/file/", 0) == 0) co_return reply(200, "OK", pattern(std::stoul(t.substr(6)) * 1024));
    if (t == "/slow") {
      co_await weft::sleep_for(100ms);
      co_return reply(200, "OK", "slow");
    }
    if (t == "/old") co_return reply(301, "Moved Permanently", "", "Location: /file/1\r\n");
    co_return reply(404, "Not Found", "no such thing");
  }

  /// One keep-alive connection: parse requests, write answers.
  weft::task<void> connection(io::tcp_stream s) {
    http::request_parser p{{}, http::body_mode::accumulate};
    std::byte buf[4096];
    for (;;) {
      std::size_t n = co_await s.read_some(buf, 10s);
      if (n == 0) co_return;
      std::span<const std::byte> in{buf, n};
      for (;;) {
        auto r = p.feed(in);
        in = in.subspan(r.consumed);
        if (r.event == http::parse_event::error) co_return;
        if (r.event == http::parse_event::need_more) break;
        if (r.event != http::parse_event::message_complete) continue;  // it follows headers_done
        std::string out = co_await answer(p.message());
        co_await s.write_all(io::as_bytes(out), 10s);
      }
    }
  }
};

weft::task<int> run_quick() {
  auto listener = io::tcp_listener::bind(io::address::parse("127.0.0.1:0"));
  const std::string base = "http://127.0.0.1:" + std::to_string(listener.local_address().port());
  std::uint16_t dead_port = 0;  // bound, then closed: nobody listens there
  {
    auto l = io::tcp_listener::bind(io::address::parse("127.0.0.1:0"));
    dead_port = l.local_address().port();
  }
  quick_server srv;
  auto server = weft::spawn(io::serve(listener, [&srv](io::tcp_stream s) { return srv.connection(std::move(s)); }));

  std::vector<std::string> urls;
  for (int i = 1; i <= 16; ++i) urls.push_back(base + "/file/" + std::to_string(i * 3));
  urls.push_back(base + "/slow");
  urls.push_back(base + "/old");
  urls.push_back(base + "/missing");
  urls.push_back("http://127.0.0.1:" + std::to_string(dead_port) + "/refused");
  const std::size_t concurrency = 4;
  fmt::print("self-test: {} URLs from {}, {} at once\n\n", urls.size(), base, concurrency);

  summary s = co_await download_all(urls, concurrency, 10s);
  server.cancel();
  try {
    co_await server;
  } catch (const weft::operation_cancelled&) {
  }

  int bad = 0;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) {
      fmt::print("FAILED: {}\n", what);
      ++bad;
    }
  };
  for (int i = 0; i < 16; ++i) {
    const fetched& f = s.results[i];
    expect(f.response && f.response->status == 200 &&
               f.response->body == quick_server::pattern(static_cast<std::size_t>(i + 1) * 3 * 1024),
           urls[i] + " came back whole");
  }
  expect(s.results[16].response && s.results[16].response->body == "slow", "/slow answered");
  expect(s.results[17].response && s.results[17].response->status == 200 &&
             s.results[17].response->url == base + "/file/1" && s.results[17].response->redirects.size() == 1,
         "/old redirected to /file/1");
  expect(s.results[18].response && s.results[18].response->status == 404, "/missing is a 404 response");
  expect(!s.results[19].response && s.results[19].error.rfind("connect:", 0) == 0, "the dead port is refused");
  expect(s.ok == 18 && s.http_errors == 1 && s.failed == 1, "18 ok, 1 HTTP error, 1 failed");
  expect(srv.max_in_flight.load() <= static_cast<int>(concurrency), "at most " + std::to_string(concurrency) +
                                                                        " requests at once (saw " +
                                                                        std::to_string(srv.max_in_flight.load()) + ")");
  fmt::print("{}\n", bad == 0 ? "self-test passed" : "self-test FAILED");
  co_return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Fetches many URLs at once with weft::http::client, at most --concurrency in flight, and prints\n"
      "each result as it completes. HTTP error statuses (404, 500) are results, not failures.",
      "parallel_download"};
  std::vector<std::string> urls;
  std::string file;
  std::size_t concurrency = 8;
  std::chrono::milliseconds timeout{30000};
  bool quick = false;
  app.add_option("URL", urls, "http:// or https:// URLs to fetch");
  app.add_option("--concurrency", concurrency, "downloads at once")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}));
  example::add_duration(app, "--timeout", timeout, "per request, each redirect hop")
      ->check(example::duration_range(1ms, 24h));
  app.add_option("--file", file, "read URLs from FILE, one a line ('#' starts a comment)")->type_name("FILE");
  app.add_flag("--quick", quick, "self-test: ~20 URLs from a local server, checks the results");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 every URL fetched (whatever its status), 1 some could not be, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  try {
    if (!file.empty()) {
      auto more = read_urls(file);
      urls.insert(urls.end(), more.begin(), more.end());
    }
  } catch (const CLI::ValidationError& e) {
    return example::usage_failure(app, e.what());
  }
  if (!quick && urls.empty()) return example::usage_failure(app, "no URLs given (or --quick for the self-test)");

  weft::runtime rt;
  if (quick) return rt.block_on(run_quick());
  summary s = rt.block_on(download_all(urls, concurrency, timeout));
  return s.failed == 0 ? example::exit_ok : example::exit_error;
}
