// The scraper's shape in miniature: a frontier, worker tasks fetching with
// one shared http::client, the HTML analysed in worker processes, and an
// end that nobody has to guess.
#include <weft/weft.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "check.hpp"

using namespace std::chrono_literals;
namespace http = weft::http;
namespace io = weft::io;

// A site of 30 pages, /p/0 to /p/29, each linking to two others.
weft::task<http::response> site(http::request& req) {
  if (!req.target.starts_with("/p/")) co_return http::make_response(404, "");
  const int n = std::stoi(req.target.substr(3));
  co_return http::make_response(200,
                                "<html><title>Page " + std::to_string(n) +
                                    "</title>"
                                    "<a href=\"/p/" +
                                    std::to_string((2 * n + 1) % 30) +
                                    "\">next</a> "
                                    "<a href=\"/p/" +
                                    std::to_string((2 * n + 2) % 30) + "\">other</a></html>",
                                "text/html");
}

// [start analyze]
// CPU work (the scraper parses with libxml2 and counts words): it runs in
// a worker process, so a slow page never stalls the fetching.
std::vector<std::string> links_of(std::string html) {
  std::vector<std::string> out;
  for (std::size_t at = 0; (at = html.find("href=\"", at)) != std::string::npos;) {
    at += 6;
    out.push_back(html.substr(at, html.find('"', at) - at));
  }
  return out;
}
// [end analyze]

// [start crawl]
struct crawl {
  std::string base;
  http::client client;                      // one per program: a connection pool per host
  weft::channel<std::string> frontier{64};  // paths waiting to be fetched
  weft::mutex m;                            // guards seen and pending
  std::set<std::string> seen;
  std::size_t pending = 0;  // queued or being fetched
  std::size_t fetched = 0, failed = 0;
};

weft::task<> worker(crawl& c) {
  while (std::optional<std::string> path = co_await c.frontier.recv()) {
    std::vector<std::string> links;
    bool ok = true;
    try {
      http::client_response r = co_await c.client.get(c.base + *path);
      links = co_await weft::spawn_process(links_of, std::move(r.body));
    } catch (const std::exception&) {  // timeout_error, client_error, remote_error...:
      ok = false;                      // one page's failure, recorded; the crawl goes on
    }
    std::vector<std::string> fresh;
    {
      auto g = co_await c.m.lock();
      (ok ? c.fetched : c.failed) += 1;
      for (auto& l : links)
        if (c.seen.insert(l).second) fresh.push_back(l);
      c.pending += fresh.size();
      if (--c.pending == 0) c.frontier.close();  // nothing queued, nothing in flight: done
    }
    for (auto& l : fresh) co_await c.frontier.send(l);
  }
}
// [end crawl]

weft::task<> crawl_site() {
  auto srv = http::server::bind(io::address::parse("127.0.0.1:0"), site);
  auto running = weft::spawn(srv.run());

  // [start run]
  crawl c;
  c.base = "http://" + srv.local_address().to_string();
  c.seen.insert("/p/0");
  c.pending = 1;
  co_await c.frontier.send("/p/0");
  std::vector<weft::task<>> workers;
  for (int i = 0; i < 4; ++i) workers.push_back(worker(c));
  co_await weft::with_timeout(10s, weft::when_all(std::move(workers)));  // the workers end as the frontier closes
  CHECK(c.fetched == 30 && c.failed == 0 && c.seen.size() == 30);
  // [end run]

  co_await srv.shutdown(1s);
  co_await running;
}

int main() { weft::run(crawl_site()); }
