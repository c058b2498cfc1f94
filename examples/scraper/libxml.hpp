// What the scraper's libxml2 users share (page.cpp, extract.cpp): the
// library's one-time set-up, and scopes that route this thread's libxml2
// errors to a handler and restore the previous one after. libxml2 keeps its
// error handlers per thread and would otherwise print on stderr, from the
// pool's worker processes too.
//
//   markup_errors errors;
//   {
//     scraper::scoped_structured_errors scope(&errors, &markup_errors::on_error);
//     doc = htmlCtxtReadMemory(...);
//   }
//
// Header-only and private to scraper_core. Nothing here blocks or awaits.
#pragma once

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <mutex>

namespace scraper {

/// libxml2 wants its global state set up once, before threads parse.
inline void init_libxml() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

/// Routes this thread's structured errors to handler(context, error).
class scoped_structured_errors {
 public:
  scoped_structured_errors(void* context, xmlStructuredErrorFunc handler)
      : previous_(xmlStructuredError), previous_context_(xmlStructuredErrorContext) {
    xmlSetStructuredErrorFunc(context, handler);
  }
  ~scoped_structured_errors() { xmlSetStructuredErrorFunc(previous_context_, previous_); }
  scoped_structured_errors(const scoped_structured_errors&) = delete;
  scoped_structured_errors& operator=(const scoped_structured_errors&) = delete;

 private:
  xmlStructuredErrorFunc previous_;
  void* previous_context_;
};

/// Routes this thread's generic (printf-style) errors to handler(context, ...).
class scoped_generic_errors {
 public:
  scoped_generic_errors(void* context, xmlGenericErrorFunc handler)
      : previous_(xmlGenericError), previous_context_(xmlGenericErrorContext) {
    xmlSetGenericErrorFunc(context, handler);
  }
  ~scoped_generic_errors() { xmlSetGenericErrorFunc(previous_context_, previous_); }
  scoped_generic_errors(const scoped_generic_errors&) = delete;
  scoped_generic_errors& operator=(const scoped_generic_errors&) = delete;

 private:
  xmlGenericErrorFunc previous_;
  void* previous_context_;
};

}  // namespace scraper
