// Umbrella header: everything in weft's io module.
#pragma once

#include "weft/io/address.hpp"
#include "weft/io/buffered.hpp"
#include "weft/io/connect.hpp"
#include "weft/io/deadline.hpp"
#include "weft/io/file.hpp"
#include "weft/io/format.hpp"
#include "weft/io/resolve.hpp"
#include "weft/io/serve.hpp"
#include "weft/io/socket.hpp"
#include "weft/io/stream.hpp"
#include "weft/io/tcp.hpp"
#include "weft/io/tls.hpp"
#include "weft/io/udp.hpp"
#include "weft/io/unix.hpp"
