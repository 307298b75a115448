// SPDX-License-Identifier: MIT
#include "vocoder/torch/distributed.hpp"

#include "config.h"

#if HAVE_GLOO
// Debian's LibTorch is built with Gloo, but its headers only declare the Gloo
// process group under this macro (its gloo/ headers: libgloo-dev).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <cstdlib>
#include <functional>

#include "acoustok/error.hpp"
#include "common/torch/libtorch_compat.hpp"

namespace acoustok::vocoder {
namespace {

constexpr int64_t kBucketBytes = 25 << 20;  // as PyTorch DDP's default bucket_cap_mb

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int env_int(const char* name, int fallback, int lo, int hi) {
  const char* v = env(name);
  if (!v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi)
    throw Error(std::string("distributed training: ") + name + "=" + v + " is not an integer in " +
                std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<int>(x);
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // The first entry ends at a comma outside brackets.
  size_t depth = 0, end = nodelist.size();
  for (size_t i = 0; i < nodelist.size(); ++i) {
    if (nodelist[i] == '[')
      ++depth;
    else if (nodelist[i] == ']' && depth > 0)
      --depth;
    else if (nodelist[i] == ',' && depth == 0) {
      end = i;
      break;
    }
  }
  const std::string first = nodelist.substr(0, end);
  const size_t open = first.find('[');
  if (open == std::string::npos) return first;
  // prefix[03-05,9]suffix -> prefix03suffix (the zero padding is kept).
  const size_t close = first.find(']', open);
  const std::string range =
      first.substr(open + 1, (close == std::string::npos ? first.size() : close) - open - 1);
  const size_t stop = range.find_first_of("-,");
  return first.substr(0, open) + range.substr(0, stop) +
         (close == std::string::npos ? "" : first.substr(close + 1));
}

DistributedEnv distributed_env_from_environment() {
  DistributedEnv e;
  if (env("WORLD_SIZE")) {
    e.source = "torchrun variables";
    e.world = env_int("WORLD_SIZE", 1, 1, 1 << 20);
    e.rank = env_int("RANK", 0, 0, e.world - 1);
    e.local_rank = env_int("LOCAL_RANK", 0, 0, 1 << 20);
    if (const char* a = env("MASTER_ADDR")) e.master_addr = a;
    e.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  } else if (env("SLURM_NTASKS") && env_int("SLURM_NTASKS", 1, 1, 1 << 20) > 1 && env("SLURM_PROCID")) {
    e.source = "Slurm (srun)";
    e.world = env_int("SLURM_NTASKS", 1, 1, 1 << 20);
    e.rank = env_int("SLURM_PROCID", 0, 0, e.world - 1);
    e.local_rank = env_int("SLURM_LOCALID", 0, 0, 1 << 20);
    if (const char* a = env("MASTER_ADDR"))
      e.master_addr = a;
    else if (const char* nodes = env("SLURM_JOB_NODELIST"))
      e.master_addr = first_slurm_host(nodes);
    const int job = env_int("SLURM_JOB_ID", 0, 0, 1 << 30);
    e.master_port = env_int("MASTER_PORT", 20000 + job % 20000, 1, 65535);
  }
  return e;
}

#if HAVE_GLOO
struct ProcessGroup::Group {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
  void allreduce(std::vector<torch::Tensor>& tensors) { gloo->allreduce(tensors)->wait(); }
  void broadcast(std::vector<torch::Tensor>& tensors) { gloo->broadcast(tensors)->wait(); }
};
#else
struct ProcessGroup::Group {  // never made: the constructor refuses
  void allreduce(std::vector<torch::Tensor>&) {}
  void broadcast(std::vector<torch::Tensor>&) {}
};
#endif

ProcessGroup::ProcessGroup(const DistributedEnv& e, std::chrono::seconds timeout)
    : rank_(e.rank), world_(e.world) {
#if !HAVE_GLOO
  (void)timeout;
  throw Error("distributed training (" + e.source + ", " + std::to_string(e.world) +
              " ranks): this build of acoustok has no c10d Gloo (build it with Gloo's headers: libgloo-dev)");
#else
  const std::string where = "distributed training (rank " + std::to_string(e.rank) + " of " +
                            std::to_string(e.world) + ", " + e.master_addr + ":" +
                            std::to_string(e.master_port) + ")";
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(e.master_port);
    o.isServer = e.rank == 0;
    o.numWorkers = e.world;
    o.waitWorkers = true;
    o.timeout = timeout;
    torch_compat::use_classic_tcp_store(o);
    auto store = c10::make_intrusive<c10d::TCPStore>(e.master_addr, o);
    auto options = c10d::ProcessGroupGloo::Options::create();
    options->timeout = timeout;
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    group_ = std::make_unique<Group>();
    group_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(store, e.rank, e.world, options);
  } catch (const std::exception& err) {
    std::string why = err.what();  // LibTorch appends a backtrace: its first line says it
    if (const size_t nl = why.find('\n'); nl != std::string::npos) why.resize(nl);
    throw Error(where + ": cannot join the group within " + std::to_string(timeout.count()) + " s: " + why);
  }
#endif
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::run(const char* what, const std::function<void(Group&)>& collective) {
  try {
    collective(*group_);
  } catch (const std::exception& err) {
    std::string why = err.what();
    if (const size_t nl = why.find('\n'); nl != std::string::npos) why.resize(nl);
    throw Error("distributed training (rank " + std::to_string(rank_) + " of " + std::to_string(world_) +
                "): " + what + " failed, another rank has probably died or stalled: " + why);
  }
}

void ProcessGroup::reduce_gradients(torch::nn::Module& module, double weight) {
  std::vector<torch::Tensor> grads;
  for (auto& p : module.parameters()) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  // Buckets of consecutive gradients, flattened, reduced, copied back.
  size_t begin = 0;
  while (begin < grads.size()) {
    size_t end = begin;
    int64_t bytes = 0;
    while (end < grads.size() && (end == begin || bytes + grads[end].nbytes() <= kBucketBytes))
      bytes += static_cast<int64_t>(grads[end++].nbytes());
    std::vector<torch::Tensor> part(grads.begin() + static_cast<std::ptrdiff_t>(begin),
                                    grads.begin() + static_cast<std::ptrdiff_t>(end));
    std::vector<torch::Tensor> flat{torch::cat([&] {
                                      std::vector<torch::Tensor> v;
                                      for (auto& g : part) v.push_back(g.reshape({-1}));
                                      return v;
                                    }())
                                        .mul_(weight)};
    run("gradient all-reduce", [&](Group& g) { g.allreduce(flat); });
    int64_t at = 0;
    for (auto& g : part) {
      g.copy_(flat[0].narrow(0, at, g.numel()).view_as(g));
      at += g.numel();
    }
    begin = end;
  }
}

void ProcessGroup::broadcast_from_rank0(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> all;
  for (auto& p : module.parameters()) all.push_back(p);
  for (auto& b : module.buffers()) all.push_back(b);
  for (auto& t : all) {
    std::vector<torch::Tensor> one{t.data()};
    run("broadcast of the weights", [&](Group& g) { g.broadcast(one); });
  }
}

void ProcessGroup::sum(torch::Tensor& values) {
  std::vector<torch::Tensor> one{values};
  run("all-reduce", [&](Group& g) { g.allreduce(one); });
}

}  // namespace acoustok::vocoder
