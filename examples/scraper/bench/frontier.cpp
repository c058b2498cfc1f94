// frontier: the memory of the scraper's in-memory frontier (issue 14,
// section 6): the resident set size per queued URL and per 1,000 URLs seen
// (fetched, no longer queued), for N URLs of a realistic shape (about 60
// bytes: http://host-K.example.org/section/S/page-NNNNNN.html, 1,000
// origins).
//
//   bench_frontier [-n N]
//   -> RESULT frontier urls=1000000 rss_mb=... bytes_per_queued=... bytes_per_1000_seen=...
//
// Two phases, each measured from the RSS before it (after malloc_trim, so
// that memory freed earlier is not counted): N URLs marked seen only (what a
// URL costs once fetched), then, in a new frontier, N URLs queued (a seen-set
// entry and a queue entry each). rss_mb is the process's RSS with N URLs
// queued. Exit code 1 if that is 300 MB or more for N = 1,000,000 (the
// issue's bound).
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "frontier.hpp"

namespace {

/// The resident set size in bytes (/proc/self/statm).
std::uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::string url(std::size_t i) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "http://host-%zu.example.org/section/%zu/page-%06zu.html", i % 1000, (i / 1000) % 100,
                i);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
      n = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: bench_frontier [-n N]\n");
      return 2;
    }
  }
  if (n < 1000) {
    std::fprintf(stderr, "bench_frontier: -n must be at least 1000\n");
    return 2;
  }
  using namespace std::chrono_literals;
  std::uint64_t seen_bytes = 0, queued_bytes = 0, rss_queued = 0;
  {
    ::malloc_trim(0);
    const std::uint64_t before = rss_bytes();
    auto f = std::make_unique<scraper::frontier>(0ms, false);
    for (std::size_t i = 0; i < n; ++i) f->mark_seen(url(i));
    seen_bytes = rss_bytes() - before;
  }
  {
    ::malloc_trim(0);
    const std::uint64_t before = rss_bytes();
    auto f = std::make_unique<scraper::frontier>(0ms, false);
    for (std::size_t i = 0; i < n; ++i) f->push(url(i), i % 7);
    rss_queued = rss_bytes();
    queued_bytes = rss_queued - before;
    if (f->queued() != n) {
      std::fprintf(stderr, "bench_frontier: %zu URLs queued of %zu\n", f->queued(), n);
      return 1;
    }
  }
  const double rss_mb = static_cast<double>(rss_queued) / (1024.0 * 1024.0);
  std::printf("RESULT frontier urls=%zu rss_mb=%.1f bytes_per_queued=%.1f bytes_per_1000_seen=%.0f\n", n, rss_mb,
              static_cast<double>(queued_bytes) / static_cast<double>(n),
              static_cast<double>(seen_bytes) / (static_cast<double>(n) / 1000.0));
  return n >= 1'000'000 && rss_mb >= 300.0 ? 1 : 0;
}
