#pragma once
// What the containers tests build launches from.

#include <string>

#include "agent/containers/containers.hpp"

namespace nucleo::agent::test_support {

// A scalar resource such as cpus:0.5 or mem:64, as a TaskInfo carries it.
inline mesos::v1::Resource scalar(const std::string& name, double value) {
  mesos::v1::Resource r;
  r.set_name(name);
  r.set_type(mesos::v1::Value::SCALAR);
  r.mutable_scalar()->set_value(value);
  return r;
}

// A host-filesystem launch of `echo hi` for task-1, with no resources.
inline ContainerLaunch echoLaunch() {
  ContainerLaunch l;
  l.containerId = "task-1";
  l.sandbox = "/var/lib/agent/sandboxes/task-1";
  l.command.set_value("echo hi");
  return l;
}

}  // namespace nucleo::agent::test_support
