// SPDX-License-Identifier: MIT
// The inputs of a batch `acoustok features` run: a list file (one path a
// line), a fairseq manifest (the root folder, then `relative/path<TAB>
// num_samples` lines, as wav2vec_manifest.py writes it) and its shards as
// fairseq's examples/hubert/simple_kmeans/feature_utils.py cuts them, and
// the .npy name of each input inside the output folder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace acoustok::tools {

// One audio file to run.
struct FeatureInput {
  std::string path;      // what is read
  std::string name;      // output name inside -o DIR ("a/b.npy"); empty in shard mode
  std::string where;     // "train.tsv: line 7" for a manifest line, else empty
  int64_t samples = -1;  // the manifest's sample count, -1 when not given
  std::string problem;   // set when the line itself is unusable: reported and skipped
};

// Non-empty lines, a final CR dropped; relative paths stay relative to the
// current folder. Throws acoustok::Error naming the file when it cannot be read.
std::vector<std::string> read_path_list(const std::string& path, const std::string& shown);

struct FairseqManifest {
  std::string root;
  std::vector<FeatureInput> lines;  // every non-empty line after the root, `path` = root + "/" + relative
};
// Each input's `name` is its path relative to the root with the extension
// replaced by .npy; a line without a usable path or count gets `problem`.
FairseqManifest read_fairseq_manifest(const std::string& path, const std::string& shown);

// Lines [begin, end) of shard `rank` of `shards` over `total` lines:
// fairseq's get_shard_range, round(total / shards * rank) with Python's
// round (half to even).
struct ShardRange {
  int64_t begin = 0, end = 0;
};
ShardRange fairseq_shard_range(int64_t total, int shards, int rank);

// fairseq's `split`: the manifest's file name without ".tsv".
std::string manifest_split(const std::string& manifest_path);

// Output names for inputs given as paths: each path relative to the deepest
// folder that holds them all, its extension replaced by .npy (a flat folder
// for files of one folder, their sub-folders kept otherwise). Throws
// UsageError when two inputs would get the same name.
std::vector<std::string> npy_names_for(const std::vector<std::string>& paths);

}  // namespace acoustok::tools
