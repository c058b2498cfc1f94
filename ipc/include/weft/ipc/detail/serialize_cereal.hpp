// Internal to serialize.hpp: the bridge to cereal for user types with a
// serialize() or save()/load() function.
//
// cereal writes to a std::ostream and reads from a std::istream, so the
// writer and reader are wrapped in unbuffered streambufs: in the size pass
// the streambuf only counts, in the write pass it copies straight into the
// shared-memory buffer. A cereal type costs two cereal passes and no
// intermediate buffer. cereal::Exception (a short read, a failed write)
// becomes serialization_error with cereal's message; any other exception a
// user's save() or load() throws goes through unchanged.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/details/helpers.hpp>

#include <istream>
#include <ostream>
#include <streambuf>
#include <typeinfo>

namespace weft::ipc::detail::ser {

[[noreturn]] void throw_cereal_error(const char* what, const std::type_info& type, const std::exception& e);

/// Unbuffered: every write goes to the Writer at once, so its byte count
/// is exact and the writer's overflow check sees each write.
template <class Writer>
class writer_streambuf final : public std::streambuf {
 public:
  explicit writer_streambuf(Writer& w) noexcept : w_(w) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n > 0) w_.write(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      char ch = traits_type::to_char_type(c);
      w_.write(&ch, 1);
    }
    return traits_type::not_eof(c);
  }

 private:
  Writer& w_;
};

/// Reads in place from the reader's remaining bytes; cereal reads exactly
/// what it needs, so gptr() tells how far the value went.
class reader_streambuf final : public std::streambuf {
 public:
  reader_streambuf(const std::byte* p, std::size_t n) noexcept {
    // The get area is never written through: streambuf just wants char*.
    char* b = const_cast<char*>(reinterpret_cast<const char*>(p));
    setg(b, b, b + n);
  }
  std::size_t consumed() const noexcept { return static_cast<std::size_t>(gptr() - eback()); }
};

template <class T>
struct auto_serializer<T, shape::cereal, true> : builtin_tag {
  template <class W>
  static void encode(W& w, const T& v) {
    writer_streambuf<W> buf(w);
    std::ostream os(&buf);
    try {
      cereal::BinaryOutputArchive archive(os);
      archive(v);
    } catch (const cereal::Exception& e) {
      throw_cereal_error("encode", typeid(T), e);
    }
  }
  static T decode(byte_reader& r) {
    reader_streambuf buf(r.take(0), r.remaining());
    std::istream is(&buf);
    T v;
    try {
      cereal::BinaryInputArchive archive(is);
      archive(v);
    } catch (const cereal::Exception& e) {
      throw_cereal_error("decode", typeid(T), e);
    }
    r.take(buf.consumed());
    return v;
  }
};

}  // namespace weft::ipc::detail::ser
