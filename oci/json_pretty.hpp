#pragma once
// Boost.JSON serializes compactly; users read `state`, `spec` and `features`
// output, so those are indented with two spaces as runc prints them.

#include <boost/json.hpp>

#include <string>

namespace nucleo::oci {

std::string prettyJson(const boost::json::value& value);

}  // namespace nucleo::oci
