// SPDX-License-Identifier: MIT
#include "feature_inputs.hpp"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "acoustok/error.hpp"
#include "commands.hpp"
#include "common/fs_util.hpp"

namespace acoustok::tools {
namespace {

namespace fs = std::filesystem;

// Python's str.rstrip(): every trailing whitespace character.
std::string rstrip(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// "a/b.flac" -> "a/b.npy"; empty when the path leaves its folder.
std::string npy_name(const fs::path& relative) {
  fs::path p = relative.lexically_normal();
  if (p.empty() || p.is_absolute() || *p.begin() == ".." || !p.has_filename()) return {};
  p.replace_extension(".npy");
  return p.generic_string();
}

}  // namespace

std::vector<std::string> read_path_list(const std::string& path, const std::string& shown) {
  std::vector<std::string> paths;
  std::string text;
  try {
    text = common::read_text_file(path);
  } catch (const Error& e) {
    throw file_error(shown, "cannot read the list of inputs");
  }
  for (std::string& line : lines_of(text)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) paths.push_back(line);
  }
  if (paths.empty()) throw file_error(shown, "names no input (one audio file path a line expected)");
  return paths;
}

FairseqManifest read_fairseq_manifest(const std::string& path, const std::string& shown) {
  std::string text;
  try {
    text = common::read_text_file(path);
  } catch (const Error& e) {
    throw file_error(shown, "cannot read the manifest");
  }
  const auto lines = lines_of(text);
  FairseqManifest m;
  if (lines.empty() || rstrip(lines[0]).empty())
    throw file_error(
        shown,
        "line 1: no root folder (a fairseq manifest starts with the folder its paths are relative to)");
  m.root = rstrip(lines[0]);
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string line = rstrip(lines[i]);
    if (line.empty()) continue;
    FeatureInput in;
    in.where = shown + ": line " + std::to_string(i + 1);
    const size_t tab = line.find('\t');
    const std::string rel = line.substr(0, tab);
    in.path = m.root + "/" + rel;  // as fairseq joins them
    in.name = npy_name(rel);
    if (tab == std::string::npos) {
      in.problem = "'" + rel + "' has no <TAB>num_samples";
    } else {
      const std::string count = line.substr(tab + 1);
      if (count.empty() || count.size() > 15 || count.find_first_not_of("0123456789") != std::string::npos)
        in.problem = "'" + count + "' is not a sample count (a non-negative integer)";
      else
        in.samples = std::stoll(count);
    }
    if (in.problem.empty() && in.name.empty())
      in.problem = "'" + rel + "' is not a file path inside the root folder";
    m.lines.push_back(std::move(in));
  }
  if (m.lines.empty()) throw file_error(shown, "names no input after its root line");
  return m;
}

ShardRange fairseq_shard_range(int64_t total, int shards, int rank) {
  // The same double operations as Python's tot / nshard * rank; nearbyint
  // in the default rounding mode rounds half to even, as round() does.
  auto at = [&](int r) {
    return static_cast<int64_t>(std::nearbyint(static_cast<double>(total) / shards * r));
  };
  return {at(rank), at(rank + 1)};
}

std::string manifest_split(const std::string& manifest_path) {
  std::string name = fs::path(manifest_path).filename().string();
  const std::string ext = ".tsv";
  if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
    name.resize(name.size() - ext.size());
  return name;
}

std::vector<std::string> npy_names_for(const std::vector<std::string>& paths) {
  std::vector<fs::path> full;
  for (const auto& p : paths) full.push_back(fs::absolute(p).lexically_normal());
  fs::path common = full.front().parent_path();
  for (const auto& p : full) {
    const fs::path parent = p.parent_path();
    fs::path shared;
    auto a = common.begin();
    auto b = parent.begin();
    for (; a != common.end() && b != parent.end() && *a == *b; ++a, ++b) shared /= *a;
    common = shared;
  }
  std::vector<std::string> names;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < full.size(); ++i) {
    std::string name = npy_name(full[i].lexically_relative(common));
    if (name.empty()) throw UsageError(paths[i] + ": not an audio file path");
    const auto [it, fresh] = seen.emplace(name, i);
    if (!fresh)
      throw UsageError(paths[it->second] + " and " + paths[i] + " would both be written to " + name +
                       " (give each input once; a fairseq manifest keeps sub-folders apart)");
    names.push_back(std::move(name));
  }
  return names;
}

}  // namespace acoustok::tools
