// Umbrella header of weft::http: messages, the HTTP/1.1 parsers, client and server.
// (Also included by weft/weft.hpp.)
#pragma once

#include "weft/http/client.hpp"
#include "weft/http/client_error.hpp"
#include "weft/http/content_decoder.hpp"
#include "weft/http/format.hpp"
#include "weft/http/message.hpp"
#include "weft/http/parser.hpp"
#include "weft/http/server.hpp"
