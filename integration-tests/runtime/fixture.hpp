#pragma once
// Shared gtest fixture: root check, a per-test tmpdir, runtimes by name (with
// nucleo probed once per process), unique container ids, and cleanup of every
// container a test created.

#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration-tests/runtime/bundle.hpp"
#include "integration-tests/runtime/report.hpp"
#include "integration-tests/runtime/runtime.hpp"

namespace nucleo::itest {

class RuntimeFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run containers";
    auto tmp = TmpDir::create();
    ASSERT_TRUE(tmp) << tmp.error().message;
    tmp_.emplace(std::move(*tmp));
  }

  void TearDown() override {
    for (const auto& [rt, id] : created_) rt->run({"delete", "--force", id}, 15s);
  }

  // The runtime `name`, or nullptr with `why` set: missing binary, or (for
  // nucleo) a binary that cannot yet run the helper bundle.
  const Runtime* runtime(const std::string& name, std::string* why) {
    if (auto it = runtimes_.find(name); it != runtimes_.end()) return it->second.get();
    std::filesystem::path work = tmp_->path() / ("rt-" + name);
    std::filesystem::create_directories(work);
    if (name == "nucleo") {
      if (Status probe = probeRuntime(name, work / "probe"); !probe) {
        // nucleo is the runtime under test: unusable is a failure, not a skip.
        *why = "nucleo cannot run the helper bundle: " + probe.error().message;
        ADD_FAILURE() << *why;
        return nullptr;
      }
    }
    auto rt = Runtime::find(name, work);
    if (!rt) {
      *why = rt.error().message;
      return nullptr;
    }
    return (runtimes_[name] = std::make_unique<Runtime>(std::move(*rt))).get();
  }

  // A fresh copy of the busybox bundle; fails the test if it cannot be made.
  std::optional<Bundle> bundle() {
    auto b = Bundle::copyPrebuilt(tmp_->path() / ("bundle-" + std::to_string(++bundles_)));
    EXPECT_TRUE(b) << b.error().message;
    if (!b) return std::nullopt;
    return std::move(*b);
  }

  // A container id unique across concurrently running test processes; it is
  // deleted (--force) with `rt` at teardown.
  // The per-test temporary directory.
  const std::filesystem::path& tmpPath() const { return tmp_->path(); }

  std::string newId(const Runtime& rt, const std::string& what) {
    std::string id = "nit-" + std::to_string(::getpid()) + "-" +
                     std::to_string(++ids_) + "-" + what;
    created_.emplace_back(&rt, id);
    return id;
  }

  // `run`s the saved bundle under a new id and parses the helper's report.
  Result<Report> runHelper(const Runtime& rt, Bundle& b, const std::string& what) {
    TRY(b.save());
    RunResult r = rt.run({"run", "--bundle", b.dir().string(), newId(rt, what)});
    if (r.exitCode != 0) {
      return Error::make("{} run: {}", rt.name(), r.describe());
    }
    return parseReport(r.out);
  }

  const std::filesystem::path& tmp() const { return tmp_->path(); }

 private:
  std::optional<TmpDir> tmp_;
  std::map<std::string, std::unique_ptr<Runtime>> runtimes_;
  std::vector<std::pair<const Runtime*, std::string>> created_;
  int bundles_ = 0;
  int ids_ = 0;
};

// GTEST_SKIP from the test body when runtime `name` is unusable.
#define USE_RUNTIME(var, name)                                   \
  std::string var##Why;                                          \
  const ::nucleo::itest::Runtime* var = runtime(name, &var##Why); \
  if (var == nullptr) GTEST_SKIP() << var##Why

}  // namespace nucleo::itest
