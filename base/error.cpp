#include "base/result.hpp"

namespace nucleo {

Error Error::fromErrno(std::string_view what, int err) {
  return Error{err, fmt::format("{}: {}", what, std::strerror(err))};
}

}  // namespace nucleo
