// weft::cluster::init: MPI start-up, the start-up check that every rank
// runs the same program, and the progress thread.
#include <elf.h>
#include <link.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine.hpp"
#include "registry.hpp"
#include "weft/cluster/init.hpp"
#include "weft/runtime/detail/start_hooks.hpp"

namespace weft::cluster {

namespace detail {

namespace {

std::vector<rank_info> all_ranks;
bool initialized = false;
bool finalized = false;

/// What each rank says about itself at start-up (MPI_Allgather'ed).
struct hello {
  std::uint64_t registry_hash;
  std::uint64_t exe_hash;
  std::uint32_t functions;
  std::uint32_t cores;
  std::int32_t pid;
  std::int32_t exe_is_build_id;
  char host[MPI_MAX_PROCESSOR_NAME + 1];
  char exe_id[64];  // the build-id in hex, or the byte hash
};

struct build_id_search {
  std::string hex;
};

int find_build_id(dl_phdr_info* info, std::size_t, void* data) {
  // The first object is the executable itself.
  auto* out = static_cast<build_id_search*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const unsigned char* name = p + sizeof(ElfW(Nhdr));
      const unsigned char* desc = name + ((note->n_namesz + 3) & ~3u);
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        static const char digits[] = "0123456789abcdef";
        for (unsigned j = 0; j < note->n_descsz && j < 31; ++j) {
          out->hex += digits[desc[j] >> 4];
          out->hex += digits[desc[j] & 15];
        }
        return 1;
      }
      p = desc + ((note->n_descsz + 3) & ~3u);
    }
  }
  return 1;  // only the executable
}

/// The executable's identity: its GNU build-id, else a hash of its bytes.
std::string executable_id(bool& is_build_id) {
  build_id_search s;
  dl_iterate_phdr(&find_build_id, &s);
  if (!s.hex.empty()) {
    is_build_id = true;
    return s.hex;
  }
  is_build_id = false;
  std::ifstream in("/proc/self/exe", std::ios::binary);
  std::uint64_t h = 14695981039346656037ULL;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h = hash_bytes(h, buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  char hex[32];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

[[noreturn]] void fail_start(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  MPI_Finalize();
  std::_Exit(2);
}

void check_same_program(const std::vector<hello>& all, const registry_summary& mine, int me) {
  if (!mine.duplicate.empty()) {
    if (me == 0)
      std::fprintf(stderr,
                   "weft::cluster: WEFT_REMOTE registers different functions under the same name (%s): give "
                   "them different names\n",
                   mine.duplicate.c_str());
    fail_start("");
  }
  const hello& root = all[0];
  std::string problems;
  for (std::size_t r = 1; r < all.size(); ++r) {
    const hello& h = all[r];
    std::string why;
    if (h.registry_hash != root.registry_hash)
      why += "its WEFT_REMOTE registry differs (" + std::to_string(h.functions) + " functions vs " +
             std::to_string(root.functions) + ")";
    if (std::strcmp(h.exe_id, root.exe_id) != 0) {
      if (!why.empty()) why += " and ";
      why += std::string("its executable differs (") + (h.exe_is_build_id ? "build-id " : "hash ") + h.exe_id + " vs " +
             root.exe_id + ")";
    }
    if (!why.empty())
      problems += "weft::cluster: rank " + std::to_string(r) + " on host " + h.host +
                  " does not run the same program as rank 0 on host " + root.host + ": " + why + "\n";
  }
  if (problems.empty()) return;
  if (me == 0)
    std::fprintf(stderr, "%sweft::cluster: refusing to start: launch the same binary on every rank\n",
                 problems.c_str());
  std::fflush(stderr);
  MPI_Finalize();
  std::_Exit(2);
}

void finalize_at_exit() { weft::cluster::finalize(); }

}  // namespace

engine& engine::get() noexcept {
  static engine e;
  return e;
}

void engine::start(role* r) {
  role_ = r;
  thread_ = std::thread([this] { loop(); });
}

void engine::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  poke();
  thread_.join();
}

namespace {

struct pending_send {
  MPI_Request request;
  std::vector<std::byte> data;
};

}  // namespace

void engine::loop() {
  std::vector<wire_out> out(static_cast<std::size_t>(size));
  std::vector<pending_send> sends;
  std::vector<std::byte> in;
  unsigned idle = 0;
  static const unsigned spin_limit = [] {
    const char* v = std::getenv("WEFT_CLUSTER_SPIN");
    return v ? static_cast<unsigned>(std::strtoul(v, nullptr, 10)) : 2000u;
  }();
  for (;;) {
    bool did = false;
    for (;;) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, message_tag, comm, &flag, &st);
      if (!flag) break;
      int n = 0;
      MPI_Get_count(&st, MPI_BYTE, &n);
      in.resize(static_cast<std::size_t>(n));
      MPI_Recv(in.data(), n, MPI_BYTE, st.MPI_SOURCE, message_tag, comm, MPI_STATUS_IGNORE);
      role_->deliver(st.MPI_SOURCE, in.data(), in.size());
      did = true;
    }
    bool stopping = stopping_.load();
    bool drained = role_->collect(out, stopping);
    for (int r = 0; r < size; ++r) {
      auto& o = out[static_cast<std::size_t>(r)];
      if (o.empty()) continue;
      sends.push_back(pending_send{MPI_REQUEST_NULL, std::move(o.bytes())});
      o.clear();
      auto& s = sends.back();
      MPI_Isend(s.data.data(), static_cast<int>(s.data.size()), MPI_BYTE, r, message_tag, comm, &s.request);
      did = true;
    }
    for (std::size_t i = 0; i < sends.size();) {
      int flag = 0;
      MPI_Test(&sends[i].request, &flag, MPI_STATUS_IGNORE);
      if (flag) {
        sends[i] = std::move(sends.back());
        sends.pop_back();
      } else {
        ++i;
      }
    }
    if (stopping && drained && sends.empty()) break;
    if (did) {
      idle = 0;
      continue;
    }
    // Nothing moved. Spin a while (yielding: on an oversubscribed machine the
    // serving ranks' workers need the CPU), then sleep in short waits that
    // a new call cuts short; MPI itself cannot wake us, hence the timeout.
    if (++idle < spin_limit) {
      sched_yield();
      continue;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::microseconds(idle < spin_limit + 2000 ? 100 : 1000), [&] { return poked_.load(); });
    poked_.store(false);
    if (idle > 1000000) idle = spin_limit + 2000;
  }
  MPI_Comm_free(&comm);
  MPI_Finalize();
}

}  // namespace detail

void init(int& argc, char**& argv) {
  using namespace detail;
  if (initialized) return;
  initialized = true;
  // Numbered before the fork server is forked: local workers are its copies.
  registry_summary reg = freeze_registry();
  // Before MPI (and its threads) exist: serving ranks fork their local
  // workers from weft's fork server, which must be forked single-threaded.
  weft::detail::run_start_hooks();
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
    throw std::runtime_error("weft::cluster::init: MPI_Init_thread failed");
  if (provided < MPI_THREAD_SERIALIZED) {
    std::fprintf(stderr, "weft::cluster::init: this MPI library does not offer MPI_THREAD_SERIALIZED\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  engine& e = engine::get();
  MPI_Comm_dup(MPI_COMM_WORLD, &e.comm);
  MPI_Comm_rank(e.comm, &e.rank);
  MPI_Comm_size(e.comm, &e.size);

  hello mine{};
  mine.registry_hash = reg.hash;
  mine.functions = reg.count;
  bool is_build_id = false;
  std::string exe = executable_id(is_build_id);
  std::snprintf(mine.exe_id, sizeof mine.exe_id, "%s", exe.c_str());
  mine.exe_is_build_id = is_build_id;
  mine.cores = std::max(1u, std::thread::hardware_concurrency());
  mine.pid = static_cast<std::int32_t>(::getpid());
  int len = 0;
  MPI_Get_processor_name(mine.host, &len);
  std::vector<hello> all(static_cast<std::size_t>(e.size));
  MPI_Allgather(&mine, sizeof(hello), MPI_BYTE, all.data(), sizeof(hello), MPI_BYTE, e.comm);
  check_same_program(all, reg, e.rank);
  for (int r = 0; r < e.size; ++r) {
    const hello& h = all[static_cast<std::size_t>(r)];
    all_ranks.push_back(rank_info{r, h.host, h.pid, h.cores});
  }
  if (e.rank != 0) serve_forever();
  e.start(&caller_role());
  std::atexit(&finalize_at_exit);
}

void finalize() {
  using namespace detail;
  if (!initialized || finalized) return;
  finalized = true;
  engine::get().stop();
}

int rank() noexcept { return detail::engine::get().rank; }
int size() noexcept { return detail::engine::get().size; }
const std::vector<rank_info>& ranks() noexcept { return detail::all_ranks; }

}  // namespace weft::cluster
