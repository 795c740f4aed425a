#pragma once
// RecordIO, the framing of Mesos's event streams: "<decimal length>\n" then
// exactly that many bytes, records back to back. The decoder does not depend
// on HTTP chunk boundaries: feed it bytes as they come.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace nucleo::sdk {

class RecordIoDecoder {
 public:
  // `maxRecordBytes` bounds a record (a corrupt length must not make the
  // client allocate without limit).
  explicit RecordIoDecoder(uint64_t maxRecordBytes = 64ull << 20) : maxRecord_(maxRecordBytes) {}

  // Appends bytes; complete records become available through next(). An
  // error (a length that is not a number, zero or over the limit) is final.
  Status feed(std::string_view bytes);

  // Moves the oldest complete record into `record`; false when none is ready.
  bool next(std::string* record);

 private:
  Status parse();

  uint64_t maxRecord_;
  std::string buffer_;
  std::deque<std::string> records_;
  bool failed_ = false;
};

// Frames one record.
std::string encodeRecord(std::string_view record);

}  // namespace nucleo::sdk
