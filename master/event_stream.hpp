#pragma once
// The master's view of a subscriber's open response: framework event streams
// and agent streams. The HTTP layer implements it with a bounded queue; tests
// implement it with a vector.

#include <google/protobuf/message.h>

namespace nucleo::master {

class EventStream {
 public:
  virtual ~EventStream() = default;
  // Queues one event as a RecordIO record. False when the stream is closed
  // or its queue is full (a reader that does not keep up): the master then
  // treats the subscriber as disconnected.
  virtual bool send(const google::protobuf::Message& event) = 0;
  // Ends the stream after the queued records; further sends fail.
  virtual void close() = 0;
  virtual bool closed() const = 0;
};

}  // namespace nucleo::master
