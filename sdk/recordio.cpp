#include "sdk/recordio.hpp"

#include <charconv>

namespace nucleo::sdk {

Status RecordIoDecoder::feed(std::string_view bytes) {
  if (failed_) return Error::make("RecordIO stream already failed");
  buffer_.append(bytes);
  Status status = parse();
  if (!status) failed_ = true;
  return status;
}

Status RecordIoDecoder::parse() {
  size_t offset = 0;
  while (offset < buffer_.size()) {
    size_t newline = buffer_.find('\n', offset);
    if (newline == std::string::npos) {
      if (buffer_.size() - offset > 20)
        return Error::make("RecordIO: record length line longer than 20 bytes");
      break;
    }
    uint64_t length = 0;
    const char* begin = buffer_.data() + offset;
    const char* end = buffer_.data() + newline;
    auto [ptr, ec] = std::from_chars(begin, end, length);
    if (ec != std::errc() || ptr != end || length == 0)
      return Error::make("RecordIO: bad record length '{}'", std::string(begin, end));
    if (length > maxRecord_)
      return Error::make("RecordIO: record of {} bytes is over the {} byte limit", length,
                         maxRecord_);
    if (buffer_.size() - (newline + 1) < length) break;
    records_.emplace_back(buffer_, newline + 1, length);
    offset = newline + 1 + length;
  }
  buffer_.erase(0, offset);
  return {};
}

bool RecordIoDecoder::next(std::string* record) {
  if (records_.empty()) return false;
  *record = std::move(records_.front());
  records_.pop_front();
  return true;
}

std::string encodeRecord(std::string_view record) {
  std::string framed = std::to_string(record.size());
  framed += '\n';
  framed.append(record);
  return framed;
}

}  // namespace nucleo::sdk
