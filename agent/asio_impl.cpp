// The one translation unit that compiles Boost.Asio and Beast for the agent
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION are set
// for every user of nucleo_agent_http).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
