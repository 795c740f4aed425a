// A minimal Mesos v1 HTTP executor for the agent's integration tests, on raw
// sockets: SUBSCRIBE (protobuf), then for each LAUNCH, and each task of a
// LAUNCH_GROUP, it reports TASK_RUNNING and, after the task's `data` seconds
// (default 0), TASK_FINISHED; KILL gives TASK_KILLED. Tasks run on threads,
// so the stream is always read. It exits once every task's terminal update
// is ACKNOWLEDGED, or on SHUTDOWN.

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
#include <mutex>
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

// An update with a fresh uuid, not sent yet.
Call::Update makeUpdate(const mesos::v1::TaskID& task, mesos::v1::TaskState state,
                        const std::string& msg) {
  Call::Update update;
  auto* status = update.mutable_status();
  *status->mutable_task_id() = task;
  status->set_state(state);
  status->set_message(msg);
  status->set_source(mesos::v1::TaskStatus::SOURCE_EXECUTOR);
  std::string uuid(16, '\0');
  if (::getrandom(uuid.data(), uuid.size(), 0) != 16) std::exit(4);
  status->set_uuid(uuid);
  return update;
}

// Sends an update, retrying while the agent restarts.
void send(const Call::Update& update) {
  Call call = base(Call::UPDATE);
  *call.mutable_update() = update;
  for (int attempt = 0; attempt < 300; ++attempt) {
    int fd = dial();
    writeAll(fd, request(call));
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    if (n >= 12 && std::string(buf, 12) == "HTTP/1.1 202") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "update of %s refused\n", update.status().task_id().value().c_str());
  std::_Exit(5);
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
  // Tasks run on threads of their own, so that the event stream is always
  // read and a restarted agent is re-subscribed to at once, as Mesos's
  // executor library does (the agent's re-registration timeout is 2 s).
  std::mutex mutex;
  std::map<std::string, Counts> tasks;
  auto done = [&] {  // under `mutex`
    for (const auto& [id, c] : tasks)
      if (!c.terminal || !c.unacked.empty()) return false;
    return !tasks.empty();
  };
  // Recorded before it is sent, so that its ACKNOWLEDGED always finds it.
  auto report = [&](const mesos::v1::TaskID& id, mesos::v1::TaskState state, const std::string& msg) {
    Call::Update u = makeUpdate(id, state, msg);
    {
      std::lock_guard lock(mutex);
      auto& c = tasks[id.value()];
      c.unacked.push_back(u);
      if (state != mesos::v1::TASK_RUNNING) c.terminal = true;
    }
    send(u);
  };
  // Every task RUNNING, then after the longest `data` seconds all FINISHED.
  auto run = [&](std::vector<mesos::v1::TaskInfo> launched) {
    double seconds = 0;
    {
      std::lock_guard lock(mutex);
      for (const auto& task : launched) tasks[task.task_id().value()].task = task;
    }
    for (const auto& task : launched) {
      report(task.task_id(), mesos::v1::TASK_RUNNING, "");
      if (!task.data().empty()) seconds = std::max(seconds, std::atof(task.data().c_str()));
    }
    std::thread([&report, launched, seconds] {
      std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
      for (const auto& task : launched)
        report(task.task_id(), mesos::v1::TASK_FINISHED, "done by the test executor");
    }).detach();
  };
  auto quit = [](int code) {
    std::fflush(stdout);
    std::_Exit(code);  // detached task threads may still sleep
  };
  // SUBSCRIBE again whenever the stream ends (an agent restart), listing the
  // tasks not finished yet, as Mesos executors do; give up after 20 tries.
  for (int subscriptions = 0; subscriptions < 20; ++subscriptions) {
    int fd = dial();
    Call subscribe = base(Call::SUBSCRIBE);
    {
      std::lock_guard lock(mutex);
      for (const auto& [id, c] : tasks) {
        if (!c.terminal) *subscribe.mutable_subscribe()->add_unacknowledged_tasks() = c.task;
        for (const auto& u : c.unacked) *subscribe.mutable_subscribe()->add_unacknowledged_updates() = u;
      }
    }
    subscribe.mutable_subscribe();
    writeAll(fd, request(subscribe));
    Stream stream(fd);
    std::string record;
    while (stream.next(&record)) {
      Event event;
      if (!event.ParseFromString(record)) quit(6);
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
        report(event.kill().task_id(), mesos::v1::TASK_KILLED, "killed by the test executor");
      } else if (event.type() == Event::ACKNOWLEDGED) {
        std::lock_guard lock(mutex);
        auto& unacked = tasks[event.acknowledged().task_id().value()].unacked;
        std::erase_if(unacked, [&](const Call::Update& u) {
          return u.status().uuid() == event.acknowledged().uuid();
        });
        if (done()) quit(0);
      } else if (event.type() == Event::SHUTDOWN) {
        quit(0);
      }
    }
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  quit(0);
  return 0;
}
