// SPDX-License-Identifier: MIT
// Data-parallel training over torch.distributed's c10d (ProcessGroupGloo,
// which Debian's LibTorch ships): the rank and world come from torchrun's
// variables or from Slurm's, a TCPStore on rank 0 is the rendezvous, and
// every step's gradients are all-reduced in buckets. Torch-only header.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>

namespace acoustok::vocoder {

struct DistributedEnv {
  int rank = 0;
  int world = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "single process";  // "torchrun variables", "Slurm (srun)"
};

// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT when WORLD_SIZE is
// set; else SLURM_PROCID, SLURM_NTASKS (> 1), SLURM_LOCALID, the first host
// of SLURM_JOB_NODELIST and MASTER_PORT (default 20000 + job id mod 20000).
// Throws acoustok::Error on inconsistent values.
DistributedEnv distributed_env_from_environment();

// "node[03-05,9],gpu1" -> "node03". Exposed for the tests.
std::string first_slurm_host(const std::string& nodelist);

class ProcessGroup {
 public:
  // Blocks until all ranks have joined (at most `timeout`); every later
  // collective also fails after `timeout`, so a rank that dies ends the
  // others with an error instead of a hang.
  ProcessGroup(const DistributedEnv& env, std::chrono::seconds timeout);
  ~ProcessGroup();
  int rank() const { return rank_; }
  int world() const { return world_; }
  // grad <- sum over ranks of (weight_r * grad_r), in buckets of ~25 MB.
  void reduce_gradients(torch::nn::Module& module, double weight);
  // Every parameter and buffer takes rank 0's values.
  void broadcast_from_rank0(torch::nn::Module& module);
  // In-place sum over ranks.
  void sum(torch::Tensor& values);

 private:
  // The Gloo process group (a c10d::ProcessGroup in LibTorch 1.x, a
  // c10d::Backend in 2.x: only the .cpp sees which).
  struct Group;
  void run(const char* what, const std::function<void(Group&)>& collective);
  int rank_ = 0, world_ = 1;
  std::unique_ptr<Group> group_;
};

}  // namespace acoustok::vocoder
