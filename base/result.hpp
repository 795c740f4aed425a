#pragma once
// Result<T>: a value or an Error, the subset of std::expected nucleo needs
// (GCC 12 ships <expected> only for -std=c++2b). Expected failures travel as
// Results; exceptions are caught at the edges (CLI, handlers).

#include <cerrno>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace nucleo {

// An error with an errno-style code (0 when none applies) and a message that
// reads as one line, most general context first: "create: mount /proc: EPERM".
struct Error {
  int code = 0;
  std::string message;

  // Captures errno now; the message is "<what>: <strerror>".
  static Error fromErrno(std::string_view what, int err = errno);

  template <class... Args>
  static Error make(fmt::format_string<Args...> format, Args&&... args) {
    return Error{0, fmt::format(format, std::forward<Args>(args)...)};
  }

  // Prepends context: "<context>: <message>". Keeps the code.
  template <class... Args>
  Error context(fmt::format_string<Args...> format, Args&&... args) && {
    message = fmt::format(format, std::forward<Args>(args)...) + ": " + message;
    return std::move(*this);
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}
  template <class U>
    requires std::is_constructible_v<T, U&&> &&
             (!std::is_same_v<std::decay_t<U>, T>) &&
             (!std::is_same_v<std::decay_t<U>, Error>) &&
             (!std::is_same_v<std::decay_t<U>, Result<T>>)
  Result(U&& value) : data_(std::in_place_index<0>, T(std::forward<U>(value))) {}

  bool has_value() const { return data_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  Error& error() & { return std::get<1>(data_); }
  const Error& error() const& { return std::get<1>(data_); }
  Error&& error() && { return std::get<1>(std::move(data_)); }

  template <class... Args>
  Result context(fmt::format_string<Args...> format, Args&&... args) && {
    if (has_value()) return std::move(*this);
    return std::move(error()).context(format, std::forward<Args>(args)...);
  }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}

  bool has_value() const { return !failed_; }
  explicit operator bool() const { return !failed_; }
  void value() const {}
  Error& error() & { return error_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

  template <class... Args>
  Result context(fmt::format_string<Args...> format, Args&&... args) && {
    if (!failed_) return {};
    return std::move(error_).context(format, std::forward<Args>(args)...);
  }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

inline Status ok() { return {}; }

}  // namespace nucleo

#define NUCLEO_CONCAT_(a, b) a##b
#define NUCLEO_CONCAT(a, b) NUCLEO_CONCAT_(a, b)

// TRY(expr): returns expr's Error from the enclosing function.
#define TRY(expr)                                          \
  do {                                                     \
    auto&& nucleo_try_result_ = (expr);                    \
    if (!nucleo_try_result_.has_value())                   \
      return std::move(nucleo_try_result_).error();        \
  } while (0)

// TRY_ASSIGN(decl, expr): declares decl from expr's value, or returns its Error.
#define TRY_ASSIGN(decl, expr) \
  TRY_ASSIGN_IMPL_(NUCLEO_CONCAT(nucleo_result_, __LINE__), decl, expr)
#define TRY_ASSIGN_IMPL_(tmp, decl, expr)   \
  auto tmp = (expr);                        \
  if (!tmp.has_value()) return std::move(tmp).error(); \
  decl = std::move(tmp).value()
