// The error paths of the serializer, out of line so the templates in
// serialize.hpp stay small and the messages are built in one place.
#include "weft/ipc/serialize.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace weft::ipc::detail::ser {

namespace {

std::string demangle(const std::type_info& type) {
  int rc = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(type.name(), nullptr, nullptr, &rc), std::free);
  return rc == 0 && name ? std::string(name.get()) : std::string(type.name());
}

std::string bytes(std::size_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

}  // namespace

void throw_overflow(std::size_t offset, std::size_t n, std::size_t capacity) {
  throw serialization_error("weft::ipc: encoded data does not fit: writing " + bytes(n) + " at offset " +
                            std::to_string(offset) + " of a " + std::to_string(capacity) + "-byte buffer");
}

void throw_truncated(std::size_t need, std::size_t left, std::size_t offset) {
  throw serialization_error("truncated: need " + bytes(need) + ", " + std::to_string(left) + " left (at offset " +
                            std::to_string(offset) + ")");
}

void throw_count_exceeds(const char* what, std::uint64_t n, std::size_t unit, std::size_t left) {
  throw serialization_error(std::string(what) + " of " + std::to_string(n) + " elements (at least " + bytes(unit) +
                            " each) exceeds the " + bytes(left) + " left");
}

void throw_string_length(std::uint64_t n, std::size_t unit, std::size_t left) {
  std::string each = unit == 1 ? "" : " (" + bytes(unit) + " each)";
  throw serialization_error("string length " + std::to_string(n) + each + " exceeds the " + bytes(left) + " left");
}

void throw_bits_exceed(std::uint64_t n, std::size_t left) {
  throw serialization_error("vector<bool> of " + std::to_string(n) + " elements exceeds the " + bytes(left) + " left");
}

void throw_bad_bool(unsigned value) {
  throw serialization_error("bool byte is " + std::to_string(value) + ", not 0 or 1");
}

void throw_bad_optional_flag(unsigned value) {
  throw serialization_error("optional flag is " + std::to_string(value) + ", not 0 or 1");
}

void throw_bad_variant_index(std::uint64_t index, std::size_t alternatives) {
  throw serialization_error("variant index " + std::to_string(index) + " is out of range (" +
                            std::to_string(alternatives) + " alternatives)");
}

void throw_bad_marker(unsigned value) {
  throw serialization_error("container element marker is " + std::to_string(value) + ", not " +
                            std::to_string(unsigned{element_marker}));
}

void throw_duplicate_key(const char* what) { throw serialization_error(std::string("duplicate key in a ") + what); }

void throw_valueless_variant() {
  throw serialization_error("weft::ipc: a variant that is valueless_by_exception cannot be encoded");
}

void throw_null_string() { throw serialization_error("weft::ipc: a null char pointer cannot be sent as a string"); }

void throw_cereal_error(const char* what, const std::type_info& type, const std::exception& e) {
  throw serialization_error("weft::ipc: cereal could not " + std::string(what) + " " + demangle(type) + ": " +
                            e.what());
}

}  // namespace weft::ipc::detail::ser
