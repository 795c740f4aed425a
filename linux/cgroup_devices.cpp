// Device rules: v1 files, and the cgroup2 BPF device program.

#include "linux/cgroup_devices.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.hpp"

namespace nucleo::os {
namespace {

// Access bits in struct bpf_cgroup_dev_ctx's access_type >> 16.
uint32_t accessBits(const std::string& access) {
  uint32_t bits = 0;
  for (char c : access) {
    if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
    if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
    if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
  }
  return bits;
}
constexpr uint32_t ALL_ACCESS = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn i {};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
struct bpf_insn loadCtx(uint8_t dst, int16_t off) {
  return insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, off, 0);
}
struct bpf_insn alu32Imm(uint8_t op, uint8_t dst, int32_t imm) {
  return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
struct bpf_insn jneImm(uint8_t dst, int32_t imm) {
  return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm);
}
struct bpf_insn exitInsn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// The instructions of one rule: each check jumps past the block when it
// does not hold; the last two return the rule's verdict.
std::vector<struct bpf_insn> ruleBlock(const CgroupDeviceRule& r) {
  std::vector<struct bpf_insn> block;
  if (r.type != 'a') {
    block.push_back(jneImm(BPF_REG_2, r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
    uint32_t bits = accessBits(r.access);
    if (bits != ALL_ACCESS) {
      // Every requested bit must be in the rule: (req & bits) == req.
      block.push_back(insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
      block.push_back(alu32Imm(BPF_AND, BPF_REG_1, static_cast<int32_t>(bits)));
      block.push_back(insn(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
    }
    if (r.major >= 0) block.push_back(jneImm(BPF_REG_4, static_cast<int32_t>(r.major)));
    if (r.minor >= 0) block.push_back(jneImm(BPF_REG_5, static_cast<int32_t>(r.minor)));
  } else if (uint32_t bits = accessBits(r.access); bits != ALL_ACCESS) {
    block.push_back(insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
    block.push_back(alu32Imm(BPF_AND, BPF_REG_1, static_cast<int32_t>(bits)));
    block.push_back(insn(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
  }
  block.push_back(alu32Imm(BPF_MOV, BPF_REG_0, r.allow ? 1 : 0));
  block.push_back(exitInsn());
  int n = static_cast<int>(block.size());
  for (int j = 0; j < n - 2; ++j)
    if (BPF_CLASS(block[j].code) == BPF_JMP) block[j].off = static_cast<int16_t>(n - j - 1);
  return block;
}

long bpf(int cmd, union bpf_attr& attr) {
  return ::syscall(SYS_bpf, cmd, &attr, sizeof attr);
}

}  // namespace

std::string deviceRuleV1(const CgroupDeviceRule& r) {
  auto num = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
  return fmt::format("{} {}:{} {}", r.type, num(r.major), num(r.minor), r.access);
}

Status validateDeviceRules(const std::vector<CgroupDeviceRule>& rules) {
  for (size_t i = 0; i < rules.size(); ++i) {
    const CgroupDeviceRule& r = rules[i];
    if (r.type != 'a' && r.type != 'b' && r.type != 'c')
      return Error::make("devices[{}].type: '{}' is not a, b or c", i, r.type);
    if (r.access.empty() || r.access.find_first_not_of("rwm") != std::string::npos)
      return Error::make("devices[{}].access: '{}' is not a subset of rwm", i, r.access);
    if (r.major < -1 || r.major > 0xfff || r.minor < -1 || r.minor > 0xfffff)
      return Error::make("devices[{}]: bad device number {}:{}", i, r.major, r.minor);
  }
  return ok();
}

std::vector<struct bpf_insn> buildDeviceProgram(const std::vector<CgroupDeviceRule>& rules) {
  std::vector<struct bpf_insn> prog = {
      loadCtx(BPF_REG_2, 0), alu32Imm(BPF_AND, BPF_REG_2, 0xffff),  // device type
      loadCtx(BPF_REG_3, 0), alu32Imm(BPF_RSH, BPF_REG_3, 16),      // access
      loadCtx(BPF_REG_4, 4), loadCtx(BPF_REG_5, 8)};                // major, minor
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    std::vector<struct bpf_insn> block = ruleBlock(*it);
    prog.insert(prog.end(), block.begin(), block.end());
    // A rule matching every access of every device ends the search.
    if (it->type == 'a' && accessBits(it->access) == ALL_ACCESS) return prog;
  }
  prog.push_back(alu32Imm(BPF_MOV, BPF_REG_0, 0));
  prog.push_back(exitInsn());
  return prog;
}

Result<std::vector<uint32_t>> attachedDevicePrograms(int cgroupDirFd) {
  std::vector<uint32_t> ids(64);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.query.target_fd = static_cast<uint32_t>(cgroupDirFd);
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = reinterpret_cast<uint64_t>(ids.data());
  attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
  if (bpf(BPF_PROG_QUERY, attr) < 0) return Error::fromErrno("bpf(BPF_PROG_QUERY)");
  ids.resize(attr.query.prog_cnt);
  return ids;
}

Status attachDeviceProgram(int cgroupDirFd, const std::string& path,
                           const std::vector<CgroupDeviceRule>& rules) {
  TRY(validateDeviceRules(rules));
  std::vector<struct bpf_insn> prog = buildDeviceProgram(rules);
  TRY_ASSIGN(std::vector<uint32_t> old, attachedDevicePrograms(cgroupDirFd)
                                            .context("device program of '{}'", path));
  static const char LICENSE[] = "Apache";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<uint64_t>(prog.data());
  attr.insn_cnt = static_cast<uint32_t>(prog.size());
  attr.license = reinterpret_cast<uint64_t>(LICENSE);
  long progFd = bpf(BPF_PROG_LOAD, attr);
  if (progFd < 0)
    return Error::fromErrno(fmt::format("bpf(BPF_PROG_LOAD) device program of '{}'", path));
  UniqueFd program(static_cast<int>(progFd));
  std::memset(&attr, 0, sizeof attr);
  attr.target_fd = static_cast<uint32_t>(cgroupDirFd);
  attr.attach_bpf_fd = static_cast<uint32_t>(program.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, attr) < 0)
    return Error::fromErrno(fmt::format("bpf(BPF_PROG_ATTACH) to '{}'", path));
  // The new program is in force before the old ones go, so there is no
  // moment without rules.
  for (uint32_t id : old) {
    std::memset(&attr, 0, sizeof attr);
    attr.prog_id = id;
    long fd = bpf(BPF_PROG_GET_FD_BY_ID, attr);
    if (fd < 0) continue;  // already gone
    UniqueFd oldProgram(static_cast<int>(fd));
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<uint32_t>(cgroupDirFd);
    attr.attach_bpf_fd = static_cast<uint32_t>(oldProgram.get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, attr) < 0 && errno != ENOENT)
      return Error::fromErrno(fmt::format("bpf(BPF_PROG_DETACH) old program {} of '{}'",
                                          id, path));
  }
  return ok();
}

Status Cgroup::applyDevices(const CgroupLimits& l) {
  if (!l.devices) return ok();
  TRY(validateDeviceRules(*l.devices));
  if (std::optional<CgroupDir> dir = controllerDir("devices");
      dir && layout_.versionOf("devices") == CgroupVersion::V1) {
    for (const CgroupDeviceRule& rule : *l.devices)
      TRY(dir->write(rule.allow ? "devices.allow" : "devices.deny", deviceRuleV1(rule)));
    return ok();
  }
  std::optional<CgroupDir> unified = unifiedDir();
  if (!unified) return Error::make("cgroup '{}': no devices controller and no cgroup2", path_);
  return attachDeviceProgram(unified->fd, unified->path, *l.devices);
}

}  // namespace nucleo::os
