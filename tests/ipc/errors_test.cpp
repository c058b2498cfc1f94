#include <signal.h>
#include <sys/wait.h>
#include <catch2/catch.hpp>

#include <stdexcept>

#include "weft/ipc/errors.hpp"

namespace {
struct custom_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace

TEST_CASE("remote_error keeps the type name and the message", "[ipc][errors]") {
  custom_failure f("bad input");
  weft::ipc::remote_error e(weft::ipc::exception_type_name(f), f.what());
  CHECK(e.type_name() == "(anonymous namespace)::custom_failure");
  CHECK(e.message() == "bad input");
  CHECK(std::string(e.what()) == "(anonymous namespace)::custom_failure: bad input");
  CHECK(weft::ipc::exception_type_name(std::out_of_range("x")) == "std::out_of_range");
}

TEST_CASE("worker_crashed describes a signal and an exit code", "[ipc][errors]") {
  weft::ipc::worker_crashed by_signal(42, SIGSEGV);  // a raw wait status: killed by SIGSEGV
  CHECK(by_signal.signal() == SIGSEGV);
  CHECK(by_signal.exit_code() == -1);
  CHECK(std::string(by_signal.what()).find("signal 11 (SIGSEGV)") != std::string::npos);
  weft::ipc::worker_crashed by_exit(42, 3 << 8);  // exited with code 3
  CHECK(by_exit.signal() == 0);
  CHECK(by_exit.exit_code() == 3);
  CHECK(std::string(by_exit.what()).find("exited with code 3") != std::string::npos);
}
