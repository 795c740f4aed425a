// A minimal Mesos v1 HTTP executor for the agent's integration tests, on raw
// sockets: SUBSCRIBE (protobuf), then for each LAUNCH, and each task of a
// LAUNCH_GROUP, it reports TASK_RUNNING and, after the task's `data` seconds
// (default 0), TASK_FINISHED; KILL gives
// TASK_KILLED. It exits once every task's terminal update is ACKNOWLEDGED, or
// on SHUTDOWN.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "mesos/v1/executor/executor.pb.h"

namespace {

using mesos::v1::executor::Call;
using mesos::v1::executor::Event;

std::string host;
int port = 0;

// Connects to the agent, retrying for up to 30 s: a restarting agent (as
// MESOS_RECOVERY_TIMEOUT allows) is waited for.
int dial() {
  for (int attempt = 0; attempt < 300; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::perror("connect");
  std::exit(2);
}

void writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) std::exit(3);
    off += static_cast<size_t>(n);
  }
}

std::string request(const Call& call) {
  std::string body = call.SerializeAsString();
  return "POST /api/v1/executor HTTP/1.1\r\nHost: " + host +
         "\r\nContent-Type: application/x-protobuf\r\nAccept: application/x-protobuf\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

Call base(Call::Type type) {
  Call call;
  call.set_type(type);
  call.mutable_framework_id()->set_value(std::getenv("MESOS_FRAMEWORK_ID"));
  call.mutable_executor_id()->set_value(std::getenv("MESOS_EXECUTOR_ID"));
  return call;
}

// Sends an update (retrying while the agent restarts); returns what was sent.
Call::Update update(const mesos::v1::TaskID& task, mesos::v1::TaskState state,
                    const std::string& msg) {
  Call call = base(Call::UPDATE);
  auto* status = call.mutable_update()->mutable_status();
  *status->mutable_task_id() = task;
  status->set_state(state);
  status->set_message(msg);
  status->set_source(mesos::v1::TaskStatus::SOURCE_EXECUTOR);
  std::string uuid(16, '\0');
  if (::getrandom(uuid.data(), uuid.size(), 0) != 16) std::exit(4);
  status->set_uuid(uuid);
  for (int attempt = 0; attempt < 300; ++attempt) {  // the agent may be restarting
    int fd = dial();
    writeAll(fd, request(call));
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    if (n >= 12 && std::string(buf, 12) == "HTTP/1.1 202") return call.update();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "update of %s refused\n", task.value().c_str());
  std::exit(5);
}

// Reads the chunked SUBSCRIBE body and yields whole RecordIO records.
class Stream {
 public:
  explicit Stream(int fd) : fd_(fd) {}
  bool next(std::string* record) {
    for (;;) {
      auto nl = body_.find('\n');
      if (nl != std::string::npos) {
        size_t len = std::stoul(body_.substr(0, nl));
        if (body_.size() >= nl + 1 + len) {
          *record = body_.substr(nl + 1, len);
          body_.erase(0, nl + 1 + len);
          return true;
        }
      }
      if (!fill()) return false;
    }
  }

 private:
  bool fill() {  // moves one chunk's data from raw_ to body_
    for (;;) {
      if (!headersDone_) {
        auto end = raw_.find("\r\n\r\n");
        if (end != std::string::npos) {
          if (raw_.compare(0, 12, "HTTP/1.1 200") != 0) return false;
          raw_.erase(0, end + 4);
          headersDone_ = true;
          continue;
        }
      } else {
        auto crlf = raw_.find("\r\n");
        if (crlf != std::string::npos) {
          size_t size = std::stoul(raw_.substr(0, crlf), nullptr, 16);
          if (size == 0) return false;
          if (raw_.size() >= crlf + 2 + size + 2) {
            body_ += raw_.substr(crlf + 2, size);
            raw_.erase(0, crlf + 2 + size + 2);
            return true;
          }
        }
      }
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n <= 0) return false;
      raw_.append(buf, static_cast<size_t>(n));
    }
  }
  int fd_;
  bool headersDone_ = false;
  std::string raw_, body_;
};

}  // namespace

int main() {
  const char* endpoint = std::getenv("MESOS_AGENT_ENDPOINT");
  if (!endpoint || !std::getenv("MESOS_FRAMEWORK_ID") || !std::getenv("MESOS_EXECUTOR_ID")) {
    std::fprintf(stderr, "MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID needed\n");
    return 1;
  }
  std::string ep = endpoint;
  host = ep.substr(0, ep.rfind(':'));
  port = std::stoi(ep.substr(ep.rfind(':') + 1));
  struct Counts {
    std::vector<Call::Update> unacked;
    bool terminal = false;
    mesos::v1::TaskInfo task;
  };
  std::map<std::string, Counts> tasks;
  auto done = [&] {
    for (const auto& [id, c] : tasks)
      if (!c.terminal || !c.unacked.empty()) return false;
    return !tasks.empty();
  };
  // Every task RUNNING, then after the longest `data` seconds all FINISHED.
  auto run = [&](const std::vector<mesos::v1::TaskInfo>& launched) {
    double seconds = 0;
    for (const auto& task : launched) {
      auto& c = tasks[task.task_id().value()];
      c.task = task;
      c.unacked.push_back(update(task.task_id(), mesos::v1::TASK_RUNNING, ""));
      if (!task.data().empty()) seconds = std::max(seconds, std::atof(task.data().c_str()));
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    for (const auto& task : launched) {
      auto& c = tasks[task.task_id().value()];
      c.unacked.push_back(
          update(task.task_id(), mesos::v1::TASK_FINISHED, "done by the test executor"));
      c.terminal = true;
    }
  };
  // SUBSCRIBE again whenever the stream ends (an agent restart), listing the
  // tasks not finished yet, as Mesos executors do; give up after 20 tries.
  for (int subscriptions = 0; subscriptions < 20; ++subscriptions) {
    int fd = dial();
    Call subscribe = base(Call::SUBSCRIBE);
    for (const auto& [id, c] : tasks) {
      if (!c.terminal) *subscribe.mutable_subscribe()->add_unacknowledged_tasks() = c.task;
      for (const auto& u : c.unacked) *subscribe.mutable_subscribe()->add_unacknowledged_updates() = u;
    }
    subscribe.mutable_subscribe();
    writeAll(fd, request(subscribe));
    Stream stream(fd);
    std::string record;
    while (stream.next(&record)) {
      Event event;
      if (!event.ParseFromString(record)) return 6;
      if (event.type() == Event::SUBSCRIBED) {
        std::printf("subscribed container=%s\n", event.subscribed().container_id().value().c_str());
        std::fflush(stdout);
      } else if (event.type() == Event::LAUNCH) {
        run({event.launch().task()});
      } else if (event.type() == Event::LAUNCH_GROUP) {
        const auto& group = event.launch_group().task_group().tasks();
        std::printf("launch group of %d tasks\n", group.size());
        std::fflush(stdout);
        run(std::vector<mesos::v1::TaskInfo>(group.begin(), group.end()));
      } else if (event.type() == Event::KILL) {
        auto& c = tasks[event.kill().task_id().value()];
        c.unacked.push_back(
            update(event.kill().task_id(), mesos::v1::TASK_KILLED, "killed by the test executor"));
        c.terminal = true;
      } else if (event.type() == Event::ACKNOWLEDGED) {
        auto& unacked = tasks[event.acknowledged().task_id().value()].unacked;
        std::erase_if(unacked, [&](const Call::Update& u) {
          return u.status().uuid() == event.acknowledged().uuid();
        });
        if (done()) return 0;
      } else if (event.type() == Event::SHUTDOWN) {
        return 0;
      }
    }
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return 0;
}
