#include "sdk/agent_files.hpp"

#include <boost/json.hpp>

#include "sdk/http_client.hpp"

namespace nucleo::sdk {

using namespace std::chrono_literals;

namespace {
std::string percentEncode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}
}  // namespace

std::string sandboxPath(const std::string& frameworkId, const std::string& executorId) {
  return "/frameworks/" + frameworkId + "/executors/" + executorId + "/runs/latest";
}

Result<FileChunk> readAgentFile(const std::string& agent, const std::string& path,
                                uint64_t offset, uint64_t length) {
  std::string target = "/files/read?path=" + percentEncode(path) +
                       "&offset=" + std::to_string(offset) + "&length=" + std::to_string(length);
  TRY_ASSIGN(auto response, httpRequest(agent, "GET", target, {}, "", 10s));
  if (response.head.status != 200)
    return Error::make("reading {} from agent {}: HTTP {} {}", path, agent, response.head.status,
                       response.body.substr(0, 200));
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(response.body, ec);
  const boost::json::object* object = ec ? nullptr : json.if_object();
  if (object == nullptr || !object->contains("data") || !object->at("data").is_string())
    return Error::make("reading {} from agent {}: not a files/read answer", path, agent);
  FileChunk chunk;
  chunk.data = std::string(object->at("data").as_string());
  chunk.nextOffset = offset + chunk.data.size();
  return chunk;
}

}  // namespace nucleo::sdk
