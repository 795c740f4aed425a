// The one translation unit of the whole project that compiles Boost.Asio
// (with its SSL part) and Beast: every user links nucleo_asio and gets the
// separate-compilation macros, so their own Beast files compile in far less
// time and memory, and a binary that links several Asio users (the agent:
// master link, fetcher, HTTP server) has one copy of each symbol.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
