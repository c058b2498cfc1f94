// weft::when_any: run tasks concurrently; the first to finish wins.
//
//   auto r = co_await weft::when_any(from_cache(k), from_disk(k));
//   // r.index: which one; r.value: std::variant of the results
//
// The losers are cancelled and awaited before when_any returns, so none of
// them outlives it. If the winner failed, its exception is rethrown.
// Cancelling the awaiting task cancels every child.
//
// Join handles may stand in for tasks (mixed freely, or a vector of them):
//
//   auto r = co_await weft::when_any(weft::spawn(a()), pool.submit(f, x), b());
//
// The first handle whose task finishes wins. A losing handle's task is
// cancelled, as join_handle::cancel() does (a process-pool job's worker is
// killed), but not awaited: when_any returns without waiting for it to end
// (a running spawn_blocking job cannot be interrupted), and whatever it
// ends with is never reported as an unhandled exception. The same when the
// awaiting task is cancelled. Handles are taken by value (std::move them).
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "weft/runtime/detail/child_set.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

template <class... Ts>
struct when_any_result {
  std::size_t index;
  std::variant<detail::value_or_monostate<Ts>...> value;
};

template <class... Ts>
task<when_any_result<Ts...>> when_any(task<Ts>... tasks) {
  static_assert(sizeof...(Ts) > 0, "when_any needs at least one task");
  detail::child_set set(detail::child_set::policy::any);
  std::tuple<detail::task_cell<Ts>*...> cells{set.spawn(std::move(tasks))...};
  co_await set.wait();
  const std::size_t w = set.winner();
  using variant = std::variant<detail::value_or_monostate<Ts>...>;
  std::optional<variant> value;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((I == w ? (void)value.emplace(std::in_place_index<I>, detail::take_value(std::get<I>(cells))) : void()), ...);
  }
  (std::index_sequence_for<Ts...>{});
  co_return when_any_result<Ts...>{w, std::move(*value)};
}

/// Over a vector of tasks of one type: {index, value} of the winner.
template <class T>
task<std::conditional_t<std::is_void_v<T>, std::size_t, std::pair<std::size_t, T>>> when_any(
    std::vector<task<T>> tasks) {
  if (tasks.empty()) throw std::invalid_argument("weft::when_any: no tasks");
  detail::child_set set(detail::child_set::policy::any);
  std::vector<detail::task_cell<T>*> cells;
  cells.reserve(tasks.size());
  for (auto& t : tasks) cells.push_back(set.spawn(std::move(t)));
  co_await set.wait();
  const std::size_t w = set.winner();
  if constexpr (std::is_void_v<T>) {
    detail::consume(cells[w]->res);
    co_return w;
  } else {
    co_return std::pair<std::size_t, T>{w, detail::consume(cells[w]->res)};
  }
}

namespace detail {

template <class T>
task<T> as_when_any_task(task<T>&& t) noexcept {
  return std::move(t);
}
template <class T>
task<T> as_when_any_task(join_handle<T>&& h) {
  return join_as_task(owned_join<T>(std::move(h)));
}

template <class A>
struct when_any_operand {};
template <class T>
struct when_any_operand<task<T>> {
  using type = T;
};
template <class T>
struct when_any_operand<join_handle<T>> {
  using type = T;
};

}  // namespace detail

/// Tasks and join handles, at least one handle: see the header comment.
template <class... As>
requires(sizeof...(As) > 0 && (detail::is_join_handle_v<As> || ...) && (requires {
           typename detail::when_any_operand<As>::type;
         } && ...)) task<when_any_result<typename detail::when_any_operand<As>::type...>> when_any(As... ops) {
  return when_any(detail::as_when_any_task(std::move(ops))...);
}

/// Over a vector of join handles of one type: {index, value} of the winner.
template <class T>
task<std::conditional_t<std::is_void_v<T>, std::size_t, std::pair<std::size_t, T>>> when_any(
    std::vector<join_handle<T>> handles) {
  std::vector<task<T>> tasks;
  tasks.reserve(handles.size());
  for (auto& h : handles) tasks.push_back(detail::as_when_any_task(std::move(h)));
  return when_any(std::move(tasks));
}

}  // namespace weft
