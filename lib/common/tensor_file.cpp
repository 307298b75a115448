// SPDX-License-Identifier: MIT
#include "acoustok/tensor_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <tuple>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "acoustok/error.hpp"
#include "common/mapped_file.hpp"
#include "common/fs_util.hpp"

namespace acoustok {

namespace {

DType parse_dtype(const std::string& s, const std::string& path) {
  static const std::map<std::string, DType> names = {
      {"F64", DType::F64}, {"F32", DType::F32},  {"F16", DType::F16}, {"BF16", DType::BF16},
      {"I64", DType::I64}, {"I32", DType::I32},  {"I16", DType::I16}, {"I8", DType::I8},
      {"U8", DType::U8},   {"BOOL", DType::BOOL}};
  auto it = names.find(s);
  if (it == names.end()) throw file_error(path, "unsupported tensor dtype '" + s + "'");
  return it->second;
}

// numel of a shape, refusing negative dims and overflow.
bool checked_numel(const std::vector<int64_t>& shape, int64_t& out) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return false;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return false;
    n *= d;
  }
  out = n;
  return true;
}

}  // namespace

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64:
    case DType::I64:
      return 8;
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16:
      return 2;
    case DType::I8:
    case DType::U8:
    case DType::BOOL:
      return 1;
  }
  return 0;
}

std::string dtype_name(DType t) {
  switch (t) {
    case DType::F64:
      return "F64";
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::I64:
      return "I64";
    case DType::I32:
      return "I32";
    case DType::I16:
      return "I16";
    case DType::I8:
      return "I8";
    case DType::U8:
      return "U8";
    case DType::BOOL:
      return "BOOL";
  }
  return "?";
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    const uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // may carry into exp: correct
  return static_cast<uint16_t>(half);
}

std::vector<float> to_float32(const TensorView& t) {
  const size_t n = static_cast<size_t>(t.numel());
  std::vector<float> out(n);
  if (n == 0) return out;  // an empty tensor may have no data pointer at all
  switch (t.dtype) {
    case DType::F32:
      std::memcpy(out.data(), t.data, n * 4);
      break;
    case DType::F64:
      for (size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, t.data + 8 * i, 8);
        out[i] = static_cast<float>(v);
      }
      break;
    case DType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, t.data + 2 * i, 2);
        out[i] = half_to_float(v);
      }
      break;
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, t.data + 2 * i, 2);
        out[i] = bfloat16_to_float(v);
      }
      break;
    default:
      throw Error("tensor of dtype " + dtype_name(t.dtype) + " is not a floating-point tensor");
  }
  return out;
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : path_(path), file_(std::make_unique<common::MappedFile>(path)) {
  const size_t file_size = file_->size();
  if (file_size < 8) {
    throw file_error(path, "too short for a safetensors file (" + std::to_string(file_size) + " bytes)");
  }
  {
    const uint8_t* bytes = file_->data();
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
    if (header_len > file_size - 8 || header_len > (100u << 20)) {
      throw file_error(path, "safetensors header length " + std::to_string(header_len) + " exceeds the file");
    }
    nlohmann::json header;
    std::set<std::string> keys;
    std::string duplicate;
    try {
      // JSON keeps the last of two equal keys; two tensors of one name are refused.
      header =
          nlohmann::json::parse(bytes + 8, bytes + 8 + header_len,
                                [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
                                  if (depth == 1 && event == nlohmann::json::parse_event_t::key &&
                                      !keys.insert(parsed.get<std::string>()).second && duplicate.empty()) {
                                    duplicate = parsed.get<std::string>();
                                  }
                                  return true;
                                });
    } catch (const std::exception& e) {
      throw file_error(path, std::string("safetensors header is not valid JSON: ") + e.what());
    }
    if (!duplicate.empty())
      throw file_error(path, "safetensors header names tensor '" + duplicate + "' twice");
    if (!header.is_object()) throw file_error(path, "safetensors header is not a JSON object");
    const uint8_t* data = bytes + 8 + header_len;
    const uint64_t data_len = file_size - 8 - header_len;
    std::vector<std::tuple<uint64_t, uint64_t, std::string>> spans;  // [begin, end) and name
    for (const auto& [name, info] : header.items()) {
      if (name == "__metadata__") {
        if (!info.is_object()) throw file_error(path, "__metadata__ is not an object");
        for (const auto& [k, v] : info.items()) {
          if (v.is_string()) metadata_[k] = v.get<std::string>();
        }
        continue;
      }
      const std::string where = "tensor '" + name + "'";
      if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") ||
          !info.contains("data_offsets") || !info["dtype"].is_string() || !info["shape"].is_array() ||
          !info["data_offsets"].is_array() || info["data_offsets"].size() != 2) {
        throw file_error(path, where + " has a malformed header entry");
      }
      TensorView view;
      view.dtype = parse_dtype(info["dtype"].get<std::string>(), path);
      for (const auto& d : info["shape"]) {
        if (!d.is_number_integer()) throw file_error(path, where + " has a non-integer dimension");
        view.shape.push_back(d.get<int64_t>());
      }
      const auto& off = info["data_offsets"];
      if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
        throw file_error(path, where + " has invalid data offsets");
      }
      const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
      int64_t numel = 0;
      if (!checked_numel(view.shape, numel)) throw file_error(path, where + " has an invalid shape");
      if (begin > end || end > data_len) {
        throw file_error(path, where + " lies outside the file (offsets " + std::to_string(begin) + ".." +
                                   std::to_string(end) + ", data is " + std::to_string(data_len) +
                                   " bytes): truncated?");
      }
      if (static_cast<uint64_t>(numel) > std::numeric_limits<uint64_t>::max() / dtype_size(view.dtype) ||
          end - begin != static_cast<uint64_t>(numel) * dtype_size(view.dtype)) {
        throw file_error(path, where + " byte count disagrees with its dtype and shape");
      }
      view.data = data + begin;
      view.nbytes = static_cast<size_t>(end - begin);
      spans.emplace_back(begin, end, name);
      tensors_.emplace(name, std::move(view));
    }
    // As the format (and Python's reader) requires: the tensors tile the data
    // exactly, so no two read each other's bytes and no bytes hide between them.
    std::sort(spans.begin(), spans.end());
    uint64_t expected = 0;
    for (const auto& [begin, end, name] : spans) {
      if (begin != expected) {
        throw file_error(path, "tensor '" + name + "' starts at byte " + std::to_string(begin) +
                                   " of the data, not at " + std::to_string(expected) +
                                   (begin < expected ? ": tensors overlap" : ": a gap precedes it"));
      }
      expected = end;
    }
    if (expected != data_len) {
      throw file_error(path, "the tensors cover " + std::to_string(expected) + " of the " +
                                 std::to_string(data_len) +
                                 " data bytes: trailing bytes belong to no tensor");
    }
  }
}

SafetensorsFile::~SafetensorsFile() = default;

void SafetensorsFile::release(const TensorView& t) const { file_->release(t.data, t.nbytes); }

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

const TensorView& SafetensorsFile::at(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw file_error(path_, "missing tensor '" + name + "'");
  return it->second;
}

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    int64_t numel = 0;
    if (!checked_numel(t.shape, numel) || static_cast<size_t>(numel) != t.values.size()) {
      throw file_error(path, "tensor '" + t.name + "' has a shape that disagrees with its values");
    }
    const uint64_t bytes = t.values.size() * 4;
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h.push_back(' ');  // align the data to 8 bytes
  common::AtomicFile out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    if (!f) throw file_error(path, std::string("cannot write: ") + std::strerror(errno));
    uint8_t len[8];
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    f.write(reinterpret_cast<const char*>(len), 8);
    f.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& t : tensors) {
      f.write(reinterpret_cast<const char*>(t.values.data()),
              static_cast<std::streamsize>(t.values.size() * 4));
    }
    f.flush();
    if (!f) throw file_error(path, "write failed (disk full?)");
  }
  out.commit();
}

NpyArray read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  char magic[8];
  if (!f.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw file_error(path, "not a NumPy .npy file");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  if (major == 1) {
    unsigned char l[2];
    if (!f.read(reinterpret_cast<char*>(l), 2)) throw file_error(path, "truncated .npy header");
    header_len = l[0] | (l[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char l[4];
    if (!f.read(reinterpret_cast<char*>(l), 4)) throw file_error(path, "truncated .npy header");
    header_len = l[0] | (l[1] << 8) | (l[2] << 16) | (static_cast<uint32_t>(l[3]) << 24);
  } else {
    throw file_error(path, "unsupported .npy version " + std::to_string(major));
  }
  if (header_len > (1u << 20)) throw file_error(path, ".npy header too long");
  std::string header(header_len, '\0');
  if (!f.read(header.data(), header_len)) throw file_error(path, "truncated .npy header");

  auto field = [&](const std::string& key) {
    const auto k = header.find("'" + key + "'");
    if (k == std::string::npos) throw file_error(path, ".npy header lacks '" + key + "'");
    return header.substr(header.find(':', k) + 1);
  };
  std::string descr = field("descr");
  descr = descr.substr(descr.find('\'') + 1);
  descr = descr.substr(0, descr.find('\''));
  if (field("fortran_order").find("True") < field("fortran_order").find(',')) {
    throw file_error(path, "Fortran-ordered .npy arrays are not supported");
  }
  std::string shape_text = field("shape");
  shape_text = shape_text.substr(shape_text.find('(') + 1);
  shape_text = shape_text.substr(0, shape_text.find(')'));
  NpyArray arr;
  std::stringstream ss(shape_text);
  for (std::string tok; std::getline(ss, tok, ',');) {
    if (tok.find_first_not_of(" ") == std::string::npos) continue;
    try {
      arr.shape.push_back(std::stoll(tok));
    } catch (const std::exception&) {
      throw file_error(path, "bad .npy shape '" + shape_text + "'");
    }
  }
  int64_t numel = 0;
  if (!checked_numel(arr.shape, numel) || numel > (int64_t{1} << 40))
    throw file_error(path, "bad .npy shape");
  size_t item = 0;
  DType type;
  if (descr == "<f4" || descr == "|f4") {
    item = 4;
    type = DType::F32;
  } else if (descr == "<f2") {
    item = 2;
    type = DType::F16;
  } else if (descr == "<f8") {
    item = 8;
    type = DType::F64;
  } else
    throw file_error(path, "unsupported .npy dtype '" + descr + "' (expected float16, float32 or float64)");
  // What the header announces must be in the file before anything is allocated.
  const std::streamoff data_start = f.tellg();
  f.seekg(0, std::ios::end);
  const std::streamoff file_end = f.tellg();
  f.seekg(data_start);
  const uint64_t announced = static_cast<uint64_t>(numel) * item;
  if (data_start < 0 || file_end < data_start || announced > static_cast<uint64_t>(file_end - data_start)) {
    throw file_error(path, "truncated: the header announces " + std::to_string(announced) +
                               " bytes of data, the file holds " +
                               std::to_string(file_end > data_start ? file_end - data_start : 0));
  }
  std::vector<uint8_t> raw(static_cast<size_t>(numel) * item);
  if (!f.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(raw.size()))) {
    throw file_error(path, "truncated: expected " + std::to_string(raw.size()) + " bytes of data");
  }
  TensorView view{type, arr.shape, raw.data(), raw.size()};
  arr.values = to_float32(view);
  return arr;
}

namespace {

// Magic, version 1.0, header length and the float32 header, padded to 64 bytes.
std::string npy_preamble(const std::vector<int64_t>& shape) {
  std::string dims;  // Python tuple syntax: "(5,)", "(3, 4)"
  for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ",";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  const char len[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  return std::string("\x93NUMPY\x01\x00", 8) + std::string(len, 2) + header;
}

}  // namespace

void write_npy(const std::string& path, const float* values, const std::vector<int64_t>& shape) {
  int64_t numel = 0;
  if (!checked_numel(shape, numel)) throw file_error(path, "invalid shape");
  const std::string preamble = npy_preamble(shape);
  common::AtomicFile out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    if (!f) throw file_error(path, std::string("cannot write: ") + std::strerror(errno));
    f.write(preamble.data(), static_cast<std::streamsize>(preamble.size()));
    f.write(reinterpret_cast<const char*>(values), static_cast<std::streamsize>(numel * 4));
    f.flush();
    if (!f) throw file_error(path, "write failed (disk full?)");
  }
  out.commit();
}

struct NpyRowWriter::Impl {
  explicit Impl(const std::string& path) : out(path) {}
  common::AtomicFile out;
  std::ofstream f;
};

NpyRowWriter::NpyRowWriter(const std::string& path, int64_t cols)
    : impl_(std::make_unique<Impl>(path)), cols_(cols) {
  if (cols < 0) throw file_error(path, "invalid shape");
  impl_->f.open(impl_->out.temp_path(), std::ios::binary);
  if (!impl_->f) throw file_error(path, std::string("cannot write: ") + std::strerror(errno));
  write_preamble();
}

NpyRowWriter::~NpyRowWriter() = default;

// Every [rows, cols] header of int64 sizes pads to the same 128 bytes, so
// the final one overwrites the first in place.
void NpyRowWriter::write_preamble() {
  const std::string preamble = npy_preamble({rows_, cols_});
  impl_->f.write(preamble.data(), static_cast<std::streamsize>(preamble.size()));
}

void NpyRowWriter::write(const float* values, int64_t rows) {
  if (!impl_->f.is_open()) throw file_error(impl_->out.path(), "written after commit");
  impl_->f.write(reinterpret_cast<const char*>(values), static_cast<std::streamsize>(rows * cols_ * 4));
  if (!impl_->f) throw file_error(impl_->out.path(), "write failed (disk full?)");
  rows_ += rows;
}

void NpyRowWriter::commit() {
  impl_->f.seekp(0);
  write_preamble();
  impl_->f.close();
  if (!impl_->f) throw file_error(impl_->out.path(), "write failed (disk full?)");
  impl_->out.commit();
}

}  // namespace acoustok
