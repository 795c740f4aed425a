#include "agent/status_update.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::agent {

namespace {

void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t getU32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

// FNV-1a: catches a record whose tail was never written (zeros after a crash).
uint32_t checksum(std::string_view data) {
  uint32_t h = 2166136261u;
  for (char c : data) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

constexpr size_t kHeader = 8;
constexpr size_t kMaxRecord = 16 << 20;

}  // namespace

std::string encodeRecord(const UpdateRecord& record) {
  std::string body(1, static_cast<char>(record.kind));
  if (record.kind == UpdateRecord::Kind::Update) {
    std::string fw = record.frameworkId.SerializeAsString();
    putU32(body, static_cast<uint32_t>(fw.size()));
    body += fw;
    body += record.status.SerializeAsString();
  } else {
    body += record.uuid;
  }
  std::string out;
  putU32(out, static_cast<uint32_t>(body.size()));
  putU32(out, checksum(body));
  return out + body;
}

DecodedRecords decodeRecords(std::string_view data) {
  DecodedRecords out;
  size_t pos = 0;
  while (pos < data.size()) {
    if (data.size() - pos < kHeader) break;
    uint32_t length = getU32(data.substr(pos));
    uint32_t sum = getU32(data.substr(pos + 4));
    if (length == 0 || length > kMaxRecord || data.size() - pos - kHeader < length) break;
    std::string_view body = data.substr(pos + kHeader, length);
    if (checksum(body) != sum) break;
    UpdateRecord record;
    auto kind = static_cast<UpdateRecord::Kind>(body[0]);
    body.remove_prefix(1);
    if (kind == UpdateRecord::Kind::Update) {
      if (body.size() < 4) break;
      uint32_t fwSize = getU32(body);
      if (body.size() - 4 < fwSize) break;
      if (!record.frameworkId.ParseFromArray(body.data() + 4, static_cast<int>(fwSize))) break;
      body.remove_prefix(4 + fwSize);
      if (!record.status.ParseFromArray(body.data(), static_cast<int>(body.size()))) break;
    } else if (kind == UpdateRecord::Kind::Ack) {
      record.uuid = std::string(body);
    } else {
      break;
    }
    record.kind = kind;
    out.records.push_back(std::move(record));
    pos += kHeader + length;
  }
  out.validBytes = pos;
  out.torn = pos < data.size();
  return out;
}

std::string randomUuid() {
  std::string out(16, '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::getrandom(out.data() + got, out.size() - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  // RFC 4122 version 4, variant 1: what Mesos's UUID::random() produces.
  out[6] = static_cast<char>((out[6] & 0x0f) | 0x40);
  out[8] = static_cast<char>((out[8] & 0x3f) | 0x80);
  return out;
}

std::string uuidToString(std::string_view uuid) {
  std::string out;
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += fmt::format("{:02x}", static_cast<uint8_t>(uuid[i]));
  }
  return out;
}

bool isTerminal(mesos::v1::TaskState state) {
  switch (state) {
    case mesos::v1::TASK_FINISHED:
    case mesos::v1::TASK_FAILED:
    case mesos::v1::TASK_KILLED:
    case mesos::v1::TASK_ERROR:
    case mesos::v1::TASK_LOST:
    case mesos::v1::TASK_DROPPED:
    case mesos::v1::TASK_GONE:
    case mesos::v1::TASK_GONE_BY_OPERATOR: return true;
    default: return false;
  }
}

Status appendSynced(const std::string& path, std::string_view data) {
  TRY_ASSIGN(UniqueFd fd, UniqueFd::open(path, O_WRONLY | O_APPEND | O_CREAT, 0600));
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno(fmt::format("write '{}'", path));
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd.get()) != 0) return Error::fromErrno(fmt::format("fsync '{}'", path));
  return {};
}

StatusUpdateManager::StatusUpdateManager(StatusUpdateOptions options, const Clock& clock,
                                         Sender sender)
    : options_(options), clock_(clock), sender_(std::move(sender)) {}

Status StatusUpdateManager::update(const mesos::v1::FrameworkID& frameworkId,
                                   mesos::v1::TaskStatus status,
                                   const std::string& checkpointPath) {
  const std::string& taskId = status.task_id().value();
  auto key = std::make_pair(frameworkId.value(), taskId);
  auto it = streams_.find(key);
  if (it != streams_.end() && it->second.terminalAcked)
    return Error::make("task '{}': its terminal update was already acknowledged", taskId);
  if (!status.has_uuid()) status.set_uuid(randomUuid());
  if (!checkpointPath.empty()) {
    UpdateRecord record{UpdateRecord::Kind::Update, frameworkId, status, {}};
    TRY(appendSynced(checkpointPath, encodeRecord(record))
            .context("checkpoint update of task '{}'", taskId));
  }
  Stream& stream = streams_[key];
  stream.frameworkId = frameworkId;
  if (!checkpointPath.empty()) stream.checkpointPath = checkpointPath;
  stream.latest = status;
  stream.pending.push_back(std::move(status));
  if (stream.pending.size() == 1 && !paused_) send(stream, true);
  return {};
}

void StatusUpdateManager::send(Stream& stream, bool first) {
  if (first) stream.backoff = options_.retryMin;
  else stream.backoff = std::min(stream.backoff * 2, options_.retryMax);
  stream.sent = true;
  stream.retryAt = clock_.now() + stream.backoff;
  sender_(stream.frameworkId, stream.pending.front());
}

Result<bool> StatusUpdateManager::acknowledge(const std::string& frameworkId,
                                              const std::string& taskId,
                                              const std::string& uuid) {
  auto it = streams_.find({frameworkId, taskId});
  if (it == streams_.end() || it->second.pending.empty()) return false;
  Stream& stream = it->second;
  if (stream.pending.front().uuid() != uuid) return false;
  if (!stream.checkpointPath.empty()) {
    UpdateRecord record{UpdateRecord::Kind::Ack, {}, {}, uuid};
    TRY(appendSynced(stream.checkpointPath, encodeRecord(record))
            .context("checkpoint acknowledgement of task '{}'", taskId));
  }
  bool terminal = isTerminal(stream.pending.front().state());
  stream.acked = stream.pending.front();
  stream.ackedUuids.insert(uuid);
  stream.pending.erase(stream.pending.begin());
  stream.sent = false;
  if (terminal) {
    stream.terminalAcked = true;
    stream.pending.clear();  // nothing may follow a terminal update
    return true;
  }
  if (!stream.pending.empty() && !paused_) send(stream, true);
  return true;
}

Status StatusUpdateManager::recover(const std::string& frameworkId, const std::string& taskId,
                                    const std::string& checkpointPath) {
  if (!fs::exists(checkpointPath)) return {};
  TRY_ASSIGN(std::string data, fs::readFile(checkpointPath));
  DecodedRecords decoded = decodeRecords(data);
  if (decoded.torn && ::truncate(checkpointPath.c_str(),
                                 static_cast<off_t>(decoded.validBytes)) != 0)
    return Error::fromErrno(fmt::format("truncate torn record of '{}'", checkpointPath));
  Stream stream;
  stream.frameworkId.set_value(frameworkId);
  stream.checkpointPath = checkpointPath;
  for (auto& record : decoded.records) {
    if (record.kind == UpdateRecord::Kind::Update) {
      stream.latest = record.status;
      if (!stream.terminalAcked) stream.pending.push_back(std::move(record.status));
      continue;
    }
    if (stream.pending.empty() || stream.pending.front().uuid() != record.uuid) continue;
    stream.acked = stream.pending.front();
    stream.ackedUuids.insert(record.uuid);
    if (isTerminal(stream.pending.front().state())) {
      stream.terminalAcked = true;
      stream.pending.clear();
    } else {
      stream.pending.erase(stream.pending.begin());
    }
  }
  streams_[{frameworkId, taskId}] = std::move(stream);
  return {};
}

void StatusUpdateManager::tick() {
  if (paused_) return;
  auto now = clock_.now();
  for (auto& [key, stream] : streams_) {
    if (stream.pending.empty()) continue;
    if (!stream.sent) send(stream, true);
    else if (now >= stream.retryAt) send(stream, false);
  }
}

void StatusUpdateManager::pause() { paused_ = true; }

void StatusUpdateManager::resume() {
  paused_ = false;
  for (auto& [key, stream] : streams_)
    if (!stream.pending.empty()) send(stream, true);
}

bool StatusUpdateManager::done(const std::string& frameworkId, const std::string& taskId) const {
  auto it = streams_.find({frameworkId, taskId});
  return it == streams_.end() || it->second.terminalAcked;
}

std::optional<mesos::v1::TaskStatus> StatusUpdateManager::latest(
    const std::string& frameworkId, const std::string& taskId) const {
  auto it = streams_.find({frameworkId, taskId});
  if (it == streams_.end()) return std::nullopt;
  return it->second.latest;
}

std::optional<mesos::v1::TaskStatus> StatusUpdateManager::lastAcked(
    const std::string& frameworkId, const std::string& taskId) const {
  auto it = streams_.find({frameworkId, taskId});
  if (it == streams_.end()) return std::nullopt;
  return it->second.acked;
}

StatusUpdateManager::UuidState StatusUpdateManager::uuidState(const std::string& frameworkId,
                                                              const std::string& taskId,
                                                              const std::string& uuid) const {
  auto it = streams_.find({frameworkId, taskId});
  if (it == streams_.end()) return UuidState::Unknown;
  if (it->second.ackedUuids.count(uuid)) return UuidState::Acknowledged;
  for (const auto& status : it->second.pending)
    if (status.uuid() == uuid) return UuidState::Pending;
  return UuidState::Unknown;
}

size_t StatusUpdateManager::pending() const {
  size_t n = 0;
  for (const auto& [key, stream] : streams_) n += stream.pending.size();
  return n;
}

void StatusUpdateManager::erase(const std::string& frameworkId, const std::string& taskId) {
  streams_.erase({frameworkId, taskId});
}

std::optional<Clock::TimePoint> StatusUpdateManager::nextRetry() const {
  std::optional<Clock::TimePoint> next;
  for (const auto& [key, stream] : streams_) {
    if (stream.pending.empty() || !stream.sent) continue;
    if (!next || stream.retryAt < *next) next = stream.retryAt;
  }
  return next;
}

}  // namespace nucleo::agent
