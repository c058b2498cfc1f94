// The demo site served: demo_content's responses through weft::http::server,
// with per-path request counts (flaky pages, and tests' checks).
#include <fmt/core.h>

#include <exception>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "demo_site.hpp"
#include "weft/http/server.hpp"
#include "weft/io/address.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/time.hpp"

namespace scraper {

namespace http = weft::http;

struct demo_site::state {
  explicit state(demo_site_options o) : content(std::move(o)) {}

  /// Counts the request; returns how many came for this path before it.
  std::uint64_t count(std::string_view path) {
    std::lock_guard lock(mu);
    ++served;
    return counts[std::string(path)]++;
  }

  /// Takes copies, not the request: the coroutine outlives nothing it
  /// borrows across the delay.
  weft::task<http::response> handle(std::string method, std::string target) {
    const std::string_view path = std::string_view(target).substr(0, target.find('?'));
    const std::uint64_t attempt = count(path);
    demo_response plan = content.respond(method, target, attempt);
    if (plan.delay.count() > 0) co_await weft::sleep_for(plan.delay);
    http::response resp = http::make_response(plan.status, std::move(plan.body), plan.content_type);
    for (auto& [name, value] : plan.headers) resp.headers.set(name, std::move(value));
    co_return resp;
  }

  demo_content content;
  std::optional<http::server> server;
  std::uint16_t port = 0;
  std::string root_url;

  mutable std::mutex mu;
  std::unordered_map<std::string, std::uint64_t> counts;  // by path
  std::uint64_t served = 0;
};

namespace {

/// Serves until shutdown; holds the state so that it outlives the server
/// however the demo_site goes.
weft::task<void> serve(std::shared_ptr<demo_site::state> st) { co_await st->server->run(); }

/// The path a request target names: origin-form as is, absolute-form
/// ("http://host/path") reduced to its path.
std::string target_path(const std::string& target) {
  if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
    const auto slash = target.find('/', target.find("//") + 2);
    return slash == std::string::npos ? "/" : target.substr(slash);
  }
  return target;
}

}  // namespace

demo_site demo_site::start(demo_site_options o) {
  const std::string host = o.host;
  const std::uint16_t port = o.port;
  auto st = std::make_shared<state>(std::move(o));
  const auto addr = weft::io::address::parse(host, port);

  http::server_options so;
  so.server_header = "weft-demo";
  // Cancelled handlers (/slow at shutdown) are expected; others are bugs.
  so.on_error = [](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const weft::operation_cancelled&) {
    } catch (const std::exception& x) {
      fmt::print(stderr, "demo site: handler failed: {}\n", x.what());
    } catch (...) {
      fmt::print(stderr, "demo site: handler failed\n");
    }
  };
  // The handler points at the state, which owns the server that owns the
  // handler: no cycle, and the state outlives every request (serve holds it).
  state* raw = st.get();
  st->server.emplace(http::server::bind(
      addr, [raw](http::request& req) { return raw->handle(req.method, target_path(req.target)); }, std::move(so)));
  const auto bound = st->server->local_address();
  st->port = bound.port();
  st->root_url =
      "http://" + (bound.is_ipv6() ? "[" + bound.ip() + "]" : bound.ip()) + ":" + std::to_string(st->port) + "/";
  demo_site site(st);
  site.runner_ = weft::spawn(serve(std::move(st)));
  return site;
}

demo_site::demo_site(std::shared_ptr<state> s) : st_(std::move(s)) {}
demo_site::demo_site(demo_site&& o) noexcept
    : st_(std::move(o.st_)), runner_(std::move(o.runner_)), stopped_(std::exchange(o.stopped_, true)) {}
demo_site& demo_site::operator=(demo_site&& o) noexcept {
  if (this != &o) {
    if (!stopped_) runner_.cancel();
    st_ = std::move(o.st_);
    runner_ = std::move(o.runner_);
    stopped_ = std::exchange(o.stopped_, true);
  }
  return *this;
}

demo_site::~demo_site() {
  // Not stopped: cancel the server; the serving task frees the state when
  // it ends.
  if (!stopped_) runner_.cancel();
}

std::string demo_site::root_url() const { return st_->root_url; }
std::uint16_t demo_site::port() const { return st_->port; }
const demo_site_manifest& demo_site::manifest() const { return st_->content.manifest(); }
const demo_content& demo_site::content() const { return st_->content; }

std::uint64_t demo_site::requests_served() const {
  std::lock_guard lock(st_->mu);
  return st_->served;
}

std::uint64_t demo_site::requests_for(std::string_view path) const {
  std::lock_guard lock(st_->mu);
  auto it = st_->counts.find(std::string(path.substr(0, path.find('?'))));
  return it == st_->counts.end() ? 0 : it->second;
}

std::uint64_t demo_site::requests_under(std::string_view prefix) const {
  std::lock_guard lock(st_->mu);
  std::uint64_t n = 0;
  for (const auto& [path, count] : st_->counts)
    if (path.rfind(prefix, 0) == 0) n += count;
  return n;
}

weft::task<void> demo_site::stop() {
  if (stopped_) co_return;
  stopped_ = true;
  // Requests in flight get a second (a crawler still waiting on /slow is
  // cut off then).
  co_await st_->server->shutdown(std::chrono::seconds(1));
  co_await runner_;
}

}  // namespace scraper
