// SPDX-License-Identifier: MIT
#include "report/unit_stats.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <utility>

#include "acoustok/error.hpp"
#include "acoustok/unit_text.hpp"
#include "report/json_file.hpp"

namespace acoustok::report {
namespace {

// Streams corpus_timestamped.json: the header fields and every segment's
// units, never the whole document. A reduced corpus (units --dedup) has one
// unit per run and each run's frames in "durations": its statistics count
// the frames, as those of the frame units it came from (one segment is held
// until its object ends, since "durations" follows "units").
class CorpusSax {
 public:
  CorpusSax(std::string path, UnitStats& stats) : path_(std::move(path)), st_(stats) {}

  bool null() { return value(Kind::Null, 0, nullptr); }
  bool boolean(bool b) {
    if (!stack_.empty() && stack_.back().role == Role::Top && stack_.back().key == "feature_model_stand_in")
      st_.stand_in = b;
    return value(Kind::Other, 0, nullptr);
  }
  bool number_integer(json::number_integer_t v) { return value(Kind::Int, v, nullptr); }
  bool number_unsigned(json::number_unsigned_t v) {
    return value(Kind::Int,
                 v > static_cast<json::number_unsigned_t>(std::numeric_limits<int64_t>::max())
                     ? std::numeric_limits<int64_t>::max()
                     : static_cast<int64_t>(v),
                 nullptr);
  }
  bool number_float(json::number_float_t v, const json::string_t&) {
    float_ = v;
    return value(Kind::Float, 0, nullptr);
  }
  bool string(json::string_t& v) { return value(Kind::String, 0, &v); }
  bool binary(json::binary_t&) { return value(Kind::Other, 0, nullptr); }
  bool start_object(std::size_t) { return open(true); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(false); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    stack_.back().key = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& e) {
    throw file_error(path_, std::string("not valid JSON: ") + e.what());
  }

  void finish() const {
    if (!seen_top_) throw file_error(path_, "expected a JSON object");
    if (!seen_segments_) throw file_error(path_, "missing \"segments\"");
  }

 private:
  enum class Role { Top, Segments, Segment, Units, Durations, Ignore };
  enum class Kind { Null, Int, Float, String, Other };
  struct Level {
    Role role;
    std::string key;
  };

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw file_error(path_, where + ": " + what);
  }
  std::string segment_where() const { return "segments[" + std::to_string(st_.segments - 1) + "]"; }
  static const char* kind_name(Kind k) {
    switch (k) {
      case Kind::Null:
        return "null";
      case Kind::Int:
        return "an integer";
      case Kind::Float:
        return "a number";
      case Kind::String:
        return "a string";
      default:
        return "another type";
    }
  }

  bool open(bool is_object) {
    if (stack_.empty()) {
      if (!is_object) fail("the document", "expected an object, found an array");
      seen_top_ = true;
      stack_.push_back({Role::Top, ""});
      return true;
    }
    const Level& l = stack_.back();
    Role role = Role::Ignore;
    if (l.role == Role::Top && l.key == "segments") {
      if (is_object) fail("segments", "expected an array, found an object");
      seen_segments_ = true;
      role = Role::Segments;
    } else if (l.role == Role::Segments) {
      st_.begin_segment();
      if (!is_object) fail(segment_where(), "expected an object, found an array");
      role = Role::Segment;
    } else if (l.role == Role::Segment && l.key == "units") {
      if (is_object) fail(segment_where() + ".units", "expected an array, found an object");
      role = Role::Units;
      unit_index_ = 0;
      seen_units_ = true;
    } else if (l.role == Role::Segment && l.key == "durations") {
      if (is_object) fail(segment_where() + ".durations", "expected an array, found an object");
      role = Role::Durations;
      seen_durations_ = true;
    } else if (l.role == Role::Units || l.role == Role::Durations) {
      fail(segment_where() + ".units[" + std::to_string(unit_index_) + "]",
           "expected a unit id, found a nested list or object");
    } else if (l.role == Role::Top &&
               (l.key == "k" || l.key == "layer" || l.key == "frame_rate" || l.key == "feature_model")) {
      fail(l.key, "expected a single value, found a list or object");
    }
    stack_.push_back({role, ""});
    return true;
  }

  bool close() {
    const Role role = stack_.back().role;
    stack_.pop_back();
    if (role == Role::Segment) end_segment();
    return true;
  }

  // The segment's units, each for its run's frames when it has durations.
  void end_segment() {
    if (seen_durations_ && durations_.size() != units_.size())
      fail(segment_where() + ".durations", "has " + std::to_string(durations_.size()) + " run lengths for " +
                                               std::to_string(units_.size()) + " units");
    for (size_t i = 0; i < units_.size(); ++i) st_.unit(units_[i], seen_durations_ ? durations_[i] : 1);
    if (seen_units_) st_.end_segment();
    units_.clear();
    durations_.clear();
    seen_units_ = seen_durations_ = false;
  }

  bool value(Kind kind, int64_t i, const std::string* s) {
    if (stack_.empty()) fail("the document", std::string("expected an object, found ") + kind_name(kind));
    const Level& l = stack_.back();
    switch (l.role) {
      case Role::Top:
        if (l.key == "k") {
          if (kind != Kind::Int || i < 1 || i > kMaxReportUnitId)
            fail("k", "expected an integer from 1 to 65535");
          st_.k = i;
        } else if (l.key == "layer") {
          if (kind != Kind::Int && kind != Kind::Null)
            fail("layer", std::string("expected an integer, found ") + kind_name(kind));
          if (kind == Kind::Int) st_.layer = i;
        } else if (l.key == "frame_rate") {
          if (kind == Kind::Int && i > 0)
            st_.frame_rate = static_cast<double>(i);
          else if (kind == Kind::Float && float_ > 0)
            st_.frame_rate = float_;
          else if (kind != Kind::Null)
            fail("frame_rate", "expected a positive number");
        } else if (l.key == "feature_model") {
          if (kind == Kind::String)
            st_.feature_model = *s;
          else if (kind != Kind::Null)
            fail("feature_model", std::string("expected a string, found ") + kind_name(kind));
        } else if (l.key == "segments") {
          fail("segments", std::string("expected an array, found ") + kind_name(kind));
        }
        break;
      case Role::Segments:
        st_.begin_segment();
        fail(segment_where(), std::string("expected an object, found ") + kind_name(kind));
      case Role::Segment:
        if ((l.key == "units" || l.key == "durations") && kind != Kind::Null)
          fail(segment_where() + "." + l.key, std::string("expected an array, found ") + kind_name(kind));
        break;
      case Role::Units:
        if (kind != Kind::Int || i < 0 || i > kMaxReportUnitId)
          fail(segment_where() + ".units[" + std::to_string(unit_index_) + "]",
               std::string("expected a unit id (an integer from 0 to 65535), found ") +
                   (kind == Kind::Int ? std::to_string(i) : std::string(kind_name(kind))));
        units_.push_back(i);
        ++unit_index_;
        break;
      case Role::Durations:
        if (kind != Kind::Int || i < 1 || i > kMaxRunFrames)
          fail(segment_where() + ".durations[" + std::to_string(durations_.size()) + "]",
               std::string("expected a run length (an integer from 1 to 65535), found ") +
                   (kind == Kind::Int ? std::to_string(i) : std::string(kind_name(kind))));
        durations_.push_back(i);
        break;
      case Role::Ignore:
        break;
    }
    return true;
  }

  std::string path_;
  UnitStats& st_;
  std::vector<Level> stack_;
  double float_ = 0;
  int64_t unit_index_ = 0;
  bool seen_top_ = false, seen_segments_ = false;
  std::vector<int64_t> units_, durations_;  // of the open segment
  bool seen_units_ = false, seen_durations_ = false;
};

}  // namespace

UnitStats read_corpus(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  UnitStats st;
  st.path = path;
  CorpusSax sax(path, st);
  try {
    json::sax_parse(in, &sax);
  } catch (const json::exception& e) {
    throw file_error(path, std::string("not valid JSON: ") + e.what());
  }
  sax.finish();
  return st;
}

UnitStats read_units_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  UnitStats st;
  st.path = path;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    st.begin_segment();
    size_t i = 0;
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
    while (i < line.size()) {
      while (i < line.size() && is_space(line[i])) ++i;
      if (i >= line.size()) break;
      size_t j = i;
      int64_t v = 0;
      bool ok = true;
      while (j < line.size() && !is_space(line[j])) {
        if (line[j] < '0' || line[j] > '9' || v > kMaxReportUnitId)
          ok = false;
        else
          v = v * 10 + (line[j] - '0');
        ++j;
      }
      if (!ok || v > kMaxReportUnitId)
        throw file_error(path, "line " + std::to_string(line_no) + ": '" +
                                   line.substr(i, std::min<size_t>(j - i, 40)) +
                                   "' is not a unit id (an integer from 0 to 65535)");
      st.unit(v);
      i = j;
    }
    st.end_segment();
  }
  if (in.bad()) throw file_error(path, "read error");
  return st;
}

}  // namespace acoustok::report
