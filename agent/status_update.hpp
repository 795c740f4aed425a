#pragma once
// The agent's status update manager (Mesos's TaskStatusUpdateManager): one
// stream per task; each update gets a 16-byte uuid, is appended to the
// task's checkpoint file (fsync) before it is sent, and is resent with
// exponential backoff until the master acknowledges it. Strictly in order:
// the next update of a task goes out only after the previous one is acked.
// Pure apart from the checkpoint file; time comes from an injected Clock.

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "mesos/v1/mesos.pb.h"

namespace nucleo::agent {

// One record of a task's checkpointed update stream.
struct UpdateRecord {
  enum class Kind : uint8_t { Update = 1, Ack = 2 };
  Kind kind = Kind::Update;
  mesos::v1::FrameworkID frameworkId;  // Update only
  mesos::v1::TaskStatus status;        // Update only
  std::string uuid;                    // Ack only
};

// "<u32 length><u32 checksum><kind><payload>" per record, little endian.
std::string encodeRecord(const UpdateRecord& record);

struct DecodedRecords {
  std::vector<UpdateRecord> records;
  size_t validBytes = 0;  // the prefix made of whole, intact records
  bool torn = false;      // bytes after validBytes (a write cut by a crash)
};
// Decodes records until the first short or corrupt one.
DecodedRecords decodeRecords(std::string_view data);

// 16 random bytes.
std::string randomUuid();
// The uuid as 8-4-4-4-12 hex, for logs.
std::string uuidToString(std::string_view uuid);

bool isTerminal(mesos::v1::TaskState state);

struct StatusUpdateOptions {
  Clock::Duration retryMin = std::chrono::seconds(10);
  Clock::Duration retryMax = std::chrono::minutes(10);
};

class StatusUpdateManager {
 public:
  // Called for every (re)send of the head update of a stream.
  using Sender = std::function<void(const mesos::v1::FrameworkID&, const mesos::v1::TaskStatus&)>;

  StatusUpdateManager(StatusUpdateOptions options, const Clock& clock, Sender sender);

  // Adds `status` (uuid assigned when missing) to the task's stream. With a
  // checkpoint path the record is appended and fsynced first; a failed write
  // is returned and the update is dropped. Sent at once when the stream has
  // nothing in flight and the manager is not paused. Updates for a task whose
  // terminal update was acknowledged are refused.
  Status update(const mesos::v1::FrameworkID& frameworkId, mesos::v1::TaskStatus status,
                const std::string& checkpointPath = "");

  // The master's ACKNOWLEDGE. True when `uuid` is the stream's head: the head
  // is released (recorded in the checkpoint) and the next one sent. A wrong
  // or duplicate uuid is ignored (false).
  Result<bool> acknowledge(const std::string& frameworkId, const std::string& taskId,
                           const std::string& uuid);

  // Rebuilds a task's stream from its checkpoint file, truncating a torn last
  // record. Nothing is sent until resume()/tick(). A missing file is fine.
  Status recover(const std::string& frameworkId, const std::string& taskId,
                 const std::string& checkpointPath);

  // Resends every head whose retry time has come.
  void tick();
  // While paused (no master), nothing is sent; resume() sends every head now
  // and restarts their backoff.
  void pause();
  void resume();

  // The task's terminal update was acknowledged (or it has no stream).
  bool done(const std::string& frameworkId, const std::string& taskId) const;
  // The latest state the task reached (the last update added), if any.
  std::optional<mesos::v1::TaskStatus> latest(const std::string& frameworkId,
                                              const std::string& taskId) const;
  // The last update the master acknowledged: what it knows of the task.
  std::optional<mesos::v1::TaskStatus> lastAcked(const std::string& frameworkId,
                                                 const std::string& taskId) const;
  // Where an update with this uuid stands in the task's stream.
  enum class UuidState { Unknown, Pending, Acknowledged };
  UuidState uuidState(const std::string& frameworkId, const std::string& taskId,
                      const std::string& uuid) const;
  // Updates not acknowledged yet, over all tasks.
  size_t pending() const;
  // Forgets a task's stream (after its executor run is garbage collected).
  void erase(const std::string& frameworkId, const std::string& taskId);
  // When the next resend is due, if any.
  std::optional<Clock::TimePoint> nextRetry() const;

 private:
  struct Stream {
    mesos::v1::FrameworkID frameworkId;
    std::vector<mesos::v1::TaskStatus> pending;  // front is in flight
    std::optional<mesos::v1::TaskStatus> latest;
    std::optional<mesos::v1::TaskStatus> acked;
    std::set<std::string> ackedUuids;
    std::string checkpointPath;
    bool terminalAcked = false;
    bool sent = false;
    Clock::TimePoint retryAt{};
    Clock::Duration backoff{};
  };
  void send(Stream& stream, bool first);

  StatusUpdateOptions options_;
  const Clock& clock_;
  Sender sender_;
  std::map<std::pair<std::string, std::string>, Stream> streams_;  // (framework, task)
  bool paused_ = false;
};

// Appends `data` to `path` (created 0600) and fsyncs it.
Status appendSynced(const std::string& path, std::string_view data);

}  // namespace nucleo::agent
