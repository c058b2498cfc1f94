// Storage for a task's outcome: nothing yet, a value, or an exception.
#pragma once

#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace weft::detail {

/// false, but only once a template is instantiated: for a static_assert that
/// refuses an overload when (and only when) it is chosen.
template <class...>
inline constexpr bool always_false = false;

template <class T>
class result {
 public:
  result() noexcept {}
  result(const result&) = delete;
  result& operator=(const result&) = delete;
  ~result() { reset(); }

  template <class U>
  void set_value(U&& v) {
    reset();
    ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<U>(v));
    state_ = state::value;
  }
  void set_exception(std::exception_ptr e) noexcept {
    reset();
    ::new (static_cast<void*>(std::addressof(error_))) std::exception_ptr(std::move(e));
    state_ = state::error;
  }
  /// Moves other's outcome into this one.
  void take_from(result& other) {
    if (other.state_ == state::value) set_value(std::move(other.value_));
    else if (other.state_ == state::error) set_exception(std::move(other.error_));
    other.reset();
  }

  bool has_value() const noexcept { return state_ == state::value; }
  bool has_error() const noexcept { return state_ == state::error; }
  bool empty() const noexcept { return state_ == state::empty; }
  std::exception_ptr error() const noexcept { return state_ == state::error ? error_ : std::exception_ptr{}; }

  /// Returns the value (moved out) or rethrows the exception.
  T get() {
    if (state_ == state::error) std::rethrow_exception(error_);
    return std::move(value_);
  }

  void reset() noexcept {
    if (state_ == state::value) value_.~T();
    else if (state_ == state::error) error_.~exception_ptr();
    state_ = state::empty;
  }

 private:
  enum class state : unsigned char { empty, value, error };
  union {
    T value_;
    std::exception_ptr error_;
  };
  state state_ = state::empty;
};

/// Takes the outcome out of r, leaving it empty: returns the value or
/// rethrows the exception (once: a second consume finds it empty).
template <class T>
decltype(auto) consume(result<T>& r) {
  if (r.has_error()) {
    std::exception_ptr e = r.error();
    r.reset();
    std::rethrow_exception(e);
  }
  if constexpr (std::is_void_v<T>) {
    r.reset();
  } else if constexpr (std::is_reference_v<T>) {
    T& v = r.get();
    r.reset();
    return static_cast<T&>(v);
  } else {
    T v = r.get();
    r.reset();
    return v;
  }
}

template <class T>
class result<T&> {
 public:
  void set_value(T& v) noexcept {
    ptr_ = std::addressof(v);
    error_ = nullptr;
  }
  void set_exception(std::exception_ptr e) noexcept {
    error_ = std::move(e);
    ptr_ = nullptr;
  }
  void take_from(result& o) noexcept {
    ptr_ = o.ptr_;
    error_ = std::move(o.error_);
    o.reset();
  }
  bool has_value() const noexcept { return ptr_ != nullptr; }
  bool has_error() const noexcept { return error_ != nullptr; }
  bool empty() const noexcept { return !ptr_ && !error_; }
  std::exception_ptr error() const noexcept { return error_; }
  T& get() {
    if (error_) std::rethrow_exception(error_);
    return *ptr_;
  }
  void reset() noexcept {
    ptr_ = nullptr;
    error_ = nullptr;
  }

 private:
  T* ptr_ = nullptr;
  std::exception_ptr error_;
};

template <>
class result<void> {
 public:
  void set_value() noexcept {
    state_ = state::value;
    error_ = nullptr;
  }
  void set_exception(std::exception_ptr e) noexcept {
    error_ = std::move(e);
    state_ = state::error;
  }
  void take_from(result& o) noexcept {
    state_ = o.state_;
    error_ = std::move(o.error_);
    o.reset();
  }
  bool has_value() const noexcept { return state_ == state::value; }
  bool has_error() const noexcept { return state_ == state::error; }
  bool empty() const noexcept { return state_ == state::empty; }
  std::exception_ptr error() const noexcept { return error_; }
  void get() {
    if (error_) std::rethrow_exception(error_);
  }
  void reset() noexcept {
    state_ = state::empty;
    error_ = nullptr;
  }

 private:
  enum class state : unsigned char { empty, value, error };
  std::exception_ptr error_;
  state state_ = state::empty;
};

}  // namespace weft::detail
