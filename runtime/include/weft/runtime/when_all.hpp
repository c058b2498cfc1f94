// weft::when_all: run tasks concurrently, wait for all, results in order.
//
//   auto [a, b] = co_await weft::when_all(fetch(x), fetch(y));
//   std::vector<int> sizes = co_await weft::when_all(std::move(tasks));
//
// Each task is spawned as a child (so they run in parallel on the workers).
// The first child to fail cancels the others; when_all waits for all of
// them and then rethrows that first exception. Cancelling the awaiting
// task cancels every child. void tasks give std::monostate in the tuple.
#pragma once

#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "weft/runtime/detail/child_set.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

template <class... Ts>
task<std::tuple<detail::value_or_monostate<Ts>...>> when_all(task<Ts>... tasks) {
  detail::child_set set(detail::child_set::policy::all);
  // Braced initialisation spawns left to right.
  std::tuple<detail::task_cell<Ts>*...> cells{set.spawn(std::move(tasks))...};
  co_await set.wait();
  if (auto e = set.first_error()) std::rethrow_exception(e);
  co_return std::apply(
      [](auto*... c) { return std::tuple<detail::value_or_monostate<Ts>...>{detail::take_value(c)...}; }, cells);
}

/// Over a vector: a vector of results (or task<void> for void tasks).
template <class T>
task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> when_all(std::vector<task<T>> tasks) {
  detail::child_set set(detail::child_set::policy::all);
  std::vector<detail::task_cell<T>*> cells;
  cells.reserve(tasks.size());
  for (auto& t : tasks) cells.push_back(set.spawn(std::move(t)));
  co_await set.wait();
  if (auto e = set.first_error()) std::rethrow_exception(e);
  if constexpr (std::is_void_v<T>) {
    co_return;
  } else {
    std::vector<T> out;
    out.reserve(cells.size());
    for (auto* c : cells) out.push_back(detail::consume(c->res));
    co_return out;
  }
}

}  // namespace weft
