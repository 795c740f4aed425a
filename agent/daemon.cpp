#include "agent/daemon.hpp"

#include <boost/asio.hpp>

#include "agent/agent.hpp"
#include "agent/fetcher/fetcher.hpp"
#include "agent/http_server.hpp"
#include "agent/master_link.hpp"
#include "agent/resources/agent_resources.hpp"
#include "base/fs.hpp"
#include "base/logging.hpp"
#include "base/strings.hpp"

namespace nucleo::agent {

namespace asio = boost::asio;

namespace {

// Containers behind the agent's ContainerBackend interface.
class ContainersBackend final : public ContainerBackend {
 public:
  explicit ContainersBackend(ContainersOptions options) : containers_(std::move(options)) {}
  Status createPod(const std::string& podId,
                   const std::optional<mesos::v1::ContainerInfo>& network) override {
    return containers_.createPod(podId, network);
  }
  Status destroyPod(const std::string& podId) override { return containers_.destroyPod(podId); }
  Result<pid_t> launch(const ContainerLaunch& launch) override { return containers_.launch(launch); }
  Result<UniqueFd> exitFd(const std::string& id) override { return containers_.exitFd(id); }
  Result<std::optional<ContainerExit>> exitOf(const std::string& id) override {
    return containers_.exitOf(id);
  }
  Status kill(const std::string& id, std::chrono::milliseconds grace) override {
    return containers_.kill(id, grace);
  }
  Status destroy(const std::string& id) override { return containers_.destroy(id); }
  Result<std::vector<ContainerInfoOnDisk>> recover() override { return containers_.recover(); }
  Result<Containers::Usage> usage(const std::string& id) override { return containers_.usage(id); }
  Result<std::vector<std::string>> ipAddresses(const std::string& id) override {
    return containers_.ipAddresses(id);
  }
  mesos::v1::CommandInfo inContainer(const std::string& id, const mesos::v1::CommandInfo& command) override {
    return containers_.execCommand(id, command);
  }

 private:
  Containers containers_;
};

ContainersOptions containersOptions(const AgentOptions& options) {
  ContainersOptions o;
  o.bridge.name = options.networkBridge;
  o.bridge.table = options.networkTable;
  o.bridge.stateDir = options.networkState;
  // Checked by parseFlags.
  if (auto net = os::net::Ipv4Net::parse(options.networkSubnet); net) o.bridge.subnet = *net;
  o.cni.configDir = options.cniConfigDir;
  o.cni.pluginDirs = strings::split(options.cniPluginDir, ':', true);
  o.workDir = options.workDir;
  o.runtimeBinary = options.runtime;
  o.supervisorBinary = options.supervisor;
  o.imageStoreRoot = options.imageRoot;
  o.cgroupParent = options.cgroupParent;
  // Checked by parseFlags.
  if (auto isolation = Isolation::parse(options.isolation)) o.isolation = *isolation;
  return o;
}

FetcherOptions fetcherOptions(const std::string& workDir) {
  FetcherOptions o;
  o.cacheDir = workDir + "/fetcher-cache";
  return o;
}

}  // namespace

struct AgentDaemon::Impl {
  explicit Impl(AgentOptions o)
      : options(std::move(o)),
        backend(containersOptions(options)),
        fetcher(fetcherOptions(options.workDir)),
        signals(io, SIGINT, SIGTERM) {}

  Status start();
  void watchExit(const std::string& containerId, UniqueFd fd);
  asio::awaitable<void> ticker();

  AgentOptions options;
  asio::io_context io{1};
  asio::thread_pool pool{2};
  SystemClock clock;
  ContainersBackend backend;
  Fetcher fetcher;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<Agent> agent;
  std::unique_ptr<MasterLink> link;
  asio::signal_set signals;
};

void AgentDaemon::Impl::watchExit(const std::string& containerId, UniqueFd fd) {
  auto descriptor = std::make_shared<asio::posix::stream_descriptor>(io, fd.release());
  descriptor->async_wait(asio::posix::stream_descriptor::wait_read,
                         [this, descriptor, containerId](boost::system::error_code ec) {
                           if (ec == asio::error::operation_aborted) return;
                           agent->containerExited(containerId);
                         });
}

asio::awaitable<void> AgentDaemon::Impl::ticker() {
  asio::steady_timer timer(io);
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(100));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    agent->tick();
  }
}

// Leases and published ports of bridged containers that went away while the
// agent was down (their runtime state is gone) are freed; a failure is only
// logged, the next attach reclaims again.
void reclaimNetwork(const ContainersOptions& o) {
  if (!fs::exists(o.bridge.stateDir + "/" + o.bridge.name)) return;
  auto freed = network::reclaim(o.bridge);
  auto log = logging::get("agent");
  if (!freed) return log->warn("network reclaim on bridge {}: {}", o.bridge.name, freed.error().message);
  for (const auto& lease : *freed)
    log->info("network lease freed bridge={} address={} container_id={}", o.bridge.name, lease.address.str(), lease.container);
}

Status AgentDaemon::Impl::start() {
  TRY(Isolation::parse(options.isolation));
  TRY(fs::makeDirs(options.workDir, 0755).context("--work-dir"));
  reclaimNetwork(containersOptions(options));
  std::vector<mesos::v1::Resource> given;
  if (!options.resources.empty()) {
    TRY_ASSIGN(given, parseResources(options.resources).context("--resources"));
  }
  DetectOptions detect;
  detect.workDir = options.workDir;
  TRY_ASSIGN(auto resources, completeResources(given, detect));
  std::vector<mesos::v1::Attribute> attributes;
  if (!options.attributes.empty()) {
    TRY_ASSIGN(attributes, parseAttributes(options.attributes).context("--attributes"));
  }
  TRY_ASSIGN(server, HttpServer::bind(io, options));
  options.port = server->port();
  AgentDeps deps;
  deps.containers = &backend;
  deps.clock = &clock;
  deps.fetch = [this](const std::vector<mesos::v1::CommandInfo::URI>& uris,
                      const std::string& sandbox) { return fetcher.fetch(uris, sandbox); };
  deps.toMaster = [this](const nucleo::agent::Call& call) {
    if (link) link->send(call);
  };
  deps.offload = [this](std::function<std::function<void()>()> work) {
    asio::post(pool, [this, work = std::move(work)] {
      std::function<void()> done;
      try {
        done = work();
      } catch (const std::exception& e) {
        logging::get("agent")->error("background work failed: {}", e.what());
        return;
      }
      asio::post(io, std::move(done));
    });
  };
  deps.watchExit = [this](const std::string& id, UniqueFd fd) { watchExit(id, std::move(fd)); };
  agent = std::make_unique<Agent>(options, resources, attributes, deps);
  TRY(agent->recover());
  logging::get("agent")->info("agent resources={} port={}", formatResources(resources),
                              options.port);
  return {};
}

AgentDaemon::AgentDaemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AgentDaemon::~AgentDaemon() {
  if (impl_) impl_->pool.join();
}

Result<std::unique_ptr<AgentDaemon>> AgentDaemon::create(AgentOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  TRY(impl->start());
  return std::unique_ptr<AgentDaemon>(new AgentDaemon(std::move(impl)));
}

uint16_t AgentDaemon::port() const { return impl_->options.port; }

void AgentDaemon::run() {
  Impl* impl = impl_.get();
  impl->server->serve(*impl->agent);
  MasterLinkHooks hooks;
  hooks.registerCall = [impl] { return impl->agent->registerCall(); };
  hooks.onEvent = [impl](const nucleo::agent::Event& event) {
    if (event.type() == nucleo::agent::Event::REGISTERED) {
      impl->agent->registered(event.registered());
    } else if (event.type() == nucleo::agent::Event::SHUTDOWN) {
      impl->agent->shutdownAgent(event.shutdown().message());
      impl->link->reconnect();
    } else {
      impl->agent->handleEvent(event);
    }
  };
  hooks.onDisconnected = [impl] { impl->agent->disconnected(); };
  hooks.onRefused = [impl](const std::string& reason) { impl->agent->shutdownAgent(reason); };
  impl->link = MasterLink::start(impl->io, impl->options, hooks);
  asio::co_spawn(impl->io, impl->ticker(), asio::detached);
  impl->signals.async_wait([impl](boost::system::error_code ec, int) {
    if (!ec) impl->io.stop();
  });
  for (;;) {
    try {
      impl->io.run();
      break;
    } catch (const std::exception& e) {
      logging::get("agent")->error("event loop: {}", e.what());
    }
  }
  impl->link->stop();
  impl->server->stop();
}

void AgentDaemon::stop() { impl_->io.stop(); }

}  // namespace nucleo::agent
