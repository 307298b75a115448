// SPDX-License-Identifier: MIT
#include "report/json_file.hpp"

#include <filesystem>
#include <system_error>

#include "acoustok/error.hpp"
#include "common/fs_util.hpp"
#include "report/text.hpp"

namespace acoustok::report {

json read_json_file(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxJsonBytes) throw file_error(path, "too large for a report (over 256 MiB)");
  const std::string text = common::read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw file_error(path, std::string("not valid JSON: ") + e.what());
  }
}

void JsonFile::fail(const std::string& where, const std::string& what) const {
  throw file_error(path, (where.empty() ? "" : where + ": ") + what);
}

const json& JsonFile::object(const json& v, const std::string& where) const {
  if (!v.is_object()) fail(where, std::string("expected an object, found ") + v.type_name());
  return v;
}

const json& JsonFile::array(const json& v, const std::string& where) const {
  if (!v.is_array()) fail(where, std::string("expected an array, found ") + v.type_name());
  return v;
}

std::string JsonFile::at(const std::string& where, const std::string& key) {
  if (where.empty()) return key;
  return where.rfind("line ", 0) == 0 ? where + ": " + key : where + "." + key;
}

std::optional<double> JsonFile::opt_number(const json& obj, const std::string& key,
                                           const std::string& where) const {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) fail(at(where, key), std::string("expected a number, found ") + it->type_name());
  return it->get<double>();
}

double JsonFile::number(const json& obj, const std::string& key, const std::string& where) const {
  const auto v = opt_number(obj, key, where);
  if (!v) fail(where, "missing \"" + key + "\"");
  return *v;
}

double JsonFile::number_or_nan(const json& obj, const std::string& key, const std::string& where) const {
  return opt_number(obj, key, where).value_or(kNaN);
}

std::optional<std::string> JsonFile::opt_string(const json& obj, const std::string& key,
                                                const std::string& where) const {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) fail(at(where, key), std::string("expected a string, found ") + it->type_name());
  return it->get<std::string>();
}

std::optional<bool> JsonFile::opt_bool(const json& obj, const std::string& key,
                                       const std::string& where) const {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean())
    fail(at(where, key), std::string("expected true or false, found ") + it->type_name());
  return it->get<bool>();
}

}  // namespace acoustok::report
