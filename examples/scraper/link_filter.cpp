// RE2 allow/deny patterns, compiled once and matched without a lock
// (RE2's matching is thread-safe on a const object).
#include "link_filter.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <stdexcept>

namespace scraper {

namespace {

std::unique_ptr<RE2> compile(std::string_view option, const std::string& pattern) {
  RE2::Options o;
  o.set_log_errors(false);  // the error goes into the exception, not to stderr
  auto re = std::make_unique<RE2>(pattern, o);
  if (!re->ok()) {
    std::string msg = std::string(option) + " '" + pattern + "': not a valid regular expression: " + re->error();
    throw std::invalid_argument(msg);
  }
  return re;
}

}  // namespace

struct link_filter::impl {
  std::vector<std::unique_ptr<RE2>> allow;
  std::vector<std::unique_ptr<RE2>> deny;
};

link_filter::link_filter() : impl_(std::make_unique<impl>()) {}

link_filter::link_filter(const link_filter_options& o) : impl_(std::make_unique<impl>()) {
  for (const auto& p : o.allow) impl_->allow.push_back(compile("--allow", p));
  for (const auto& p : o.deny) impl_->deny.push_back(compile("--deny", p));
}

link_filter::~link_filter() = default;
link_filter::link_filter(link_filter&&) noexcept = default;
link_filter& link_filter::operator=(link_filter&&) noexcept = default;

bool link_filter::follows(std::string_view url) const {
  auto matches = [&](const std::unique_ptr<RE2>& re) { return RE2::PartialMatch(url, *re); };
  if (!impl_->allow.empty() && std::none_of(impl_->allow.begin(), impl_->allow.end(), matches)) return false;
  return std::none_of(impl_->deny.begin(), impl_->deny.end(), matches);
}

bool link_filter::empty() const noexcept { return impl_->allow.empty() && impl_->deny.empty(); }

void link_filter::check(std::string_view option, const std::string& pattern) { (void)compile(option, pattern); }

}  // namespace scraper
