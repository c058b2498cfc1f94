#include "reply_reader.hpp"

#include <fmt/format.h>
#include <hiredis/read.h>

#include <algorithm>
#include <new>
#include <string>
#include <utility>

namespace weft::redis::detail {

namespace {

// The reader being driven on this thread: the callbacks have no other way
// to it in hiredis 0.14 (redisReadTask has no pointer back to its reader),
// and a reader is only ever driven synchronously, inside next().
thread_local std::size_t current_max_elements = 0;
thread_local const char** current_failure = nullptr;

// Where a new value goes: a root is allocated (hiredis hands it back from
// redisReaderGetReply), an element is appended to its parent array, whose
// elements arrive in order. A child array's address stays valid while it
// is filled: its parent only grows again after it is complete.
void* place(const redisReadTask* task, reply&& value) {
  try {
    if (task->parent == nullptr) return new reply(std::move(value));
    std::vector<reply>& siblings = static_cast<reply*>(task->parent->obj)->as_array();
    siblings.push_back(std::move(value));
    return &siblings.back();
  } catch (const std::bad_alloc&) {
    return nullptr;  // hiredis reports "Out of memory"
  }
}

void* create_string(const redisReadTask* task, char* str, size_t len) {
  std::string s(str, len);
  switch (task->type) {
    case REDIS_REPLY_ERROR: return place(task, reply::error(std::move(s)));
    case REDIS_REPLY_STATUS: return place(task, reply::simple_string(std::move(s)));
    default: return place(task, reply::bulk_string(std::move(s)));
  }
}

void* create_array(const redisReadTask* task, int elements) {
  // Every element takes at least 3 bytes on the wire (":1\r\n" is 4):
  // more than that many is a reply over the limit, and must not be
  // reserved on a server's word.
  if (static_cast<std::size_t>(elements) > current_max_elements) {
    if (current_failure) *current_failure = "an array with more elements than the reply limit allows";
    return nullptr;
  }
  std::vector<reply> v;
  v.reserve(std::min(elements, 1024));
  return place(task, reply::array(std::move(v)));
}

void* create_integer(const redisReadTask* task, long long value) { return place(task, reply::integer(value)); }

void* create_nil(const redisReadTask* task) { return place(task, reply::nil()); }

void free_object(void* obj) { delete static_cast<reply*>(obj); }

redisReplyObjectFunctions functions = {create_string, create_array, create_integer, create_nil, free_object};

}  // namespace

reply_reader::reply_reader(std::size_t max_reply_bytes)
    : r_(redisReaderCreateWithFunctions(&functions)), max_reply_bytes_(max_reply_bytes) {
  if (!r_) throw std::bad_alloc();
}

reply_reader::~reply_reader() { redisReaderFree(r_); }

void reply_reader::feed(const char* data, std::size_t n) {
  if (redisReaderFeed(r_, data, n) != REDIS_OK) throw reply_stream_error("out of memory buffering a reply");
}

std::size_t reply_reader::buffered() const noexcept { return r_->len - r_->pos; }

std::optional<reply> reply_reader::next() {
  current_max_elements = max_reply_bytes_ / 3;
  current_failure = &failure_;
  void* obj = nullptr;
  const int rc = redisReaderGetReply(r_, &obj);
  current_failure = nullptr;
  if (rc != REDIS_OK) {
    if (failure_)
      throw reply_stream_error(fmt::format("a reply over max_reply_bytes ({} bytes): {}", max_reply_bytes_, failure_));
    throw reply_stream_error(fmt::format("protocol error: {}", r_->errstr));
  }
  if (obj == nullptr) {
    if (buffered() > max_reply_bytes_)
      throw reply_stream_error(
          fmt::format("a reply over max_reply_bytes ({} bytes): {} bytes received and it is not complete",
                      max_reply_bytes_, buffered()));
    return std::nullopt;
  }
  std::unique_ptr<reply> owned(static_cast<reply*>(obj));
  return std::move(*owned);
}

}  // namespace weft::redis::detail
