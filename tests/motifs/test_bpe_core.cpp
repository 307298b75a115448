// SPDX-License-Identifier: MIT
// The BPE core without the command line: unit text, the code-point mapping,
// and encoding compared with the SentencePiece Python module (fixtures from
// tests/fixtures/gen_bpe_fixtures.py).
#include <gtest/gtest.h>

#include <filesystem>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "acoustok/error.hpp"
#include "acoustok/motif_model.hpp"
#include "acoustok/unit_text.hpp"
#include "test_util.hpp"

using acoustok::test::fixture;
using nlohmann::json;

namespace {

json expected() { return json::parse(acoustok::test::read_file(fixture("bpe/expected.json"))); }

std::vector<std::vector<int>> read_unit_lines(const std::string& path) {
  std::vector<std::vector<int>> lines;
  std::istringstream in(acoustok::test::read_file(path));
  std::vector<int> units;
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) {
    acoustok::parse_unit_line(line, &units, path, ++n);
    lines.push_back(units);
  }
  return lines;
}

std::string error_of(const std::string& line) {
  std::vector<int> units;
  try {
    acoustok::parse_unit_line(line, &units, "units.txt", 12);
  } catch (const acoustok::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(UnitText, ParsesIdsBetweenSpacesTabsAndCr) {
  std::vector<int> units;
  acoustok::parse_unit_line("  3 0\t17  35327 007\r", &units, "x", 1);
  EXPECT_EQ(units, (std::vector<int>{3, 0, 17, 35327, 7}));
  acoustok::parse_unit_line("", &units, "x", 1);
  EXPECT_TRUE(units.empty());
}

TEST(UnitText, RejectsBadTokensNamingFileAndLine) {
  EXPECT_EQ(error_of("1 2 x 3"), "units.txt: line 12: 'x' is not a unit id (a non-negative decimal integer)");
  EXPECT_EQ(error_of("1 -4"), "units.txt: line 12: negative unit id '-4' (unit ids are 0..35327)");
  EXPECT_NE(error_of("35328").find("line 12: unit id '35328' is beyond the largest unit id 35327"),
            std::string::npos);
  EXPECT_NE(error_of("99999999999999999999999").find("beyond the largest unit id"), std::string::npos);
  for (const char* bad : {"3.5", "+3", "1e3", "0x10", "-", "4,5", "--1"}) {
    EXPECT_NE(error_of(std::string("1 ") + bad).find("line 12: '"), std::string::npos) << bad;
  }
}

TEST(UnitText, MapsEveryUnitToOneCodePointBelowTheSurrogates) {
  std::string s;
  acoustok::append_unit_utf8(0, &s);
  EXPECT_EQ(s, "\xE4\xB8\x80");  // U+4E00
  s.clear();
  acoustok::append_unit_utf8(acoustok::kMaxUnitId, &s);
  EXPECT_EQ(s, "\xED\x9F\xBF");  // U+D7FF, the last code point before U+D800
  const std::vector<int> units = {0, 1, 99, 20991, 20992, 35327};
  std::vector<int> back;
  ASSERT_TRUE(acoustok::utf8_to_units(acoustok::units_to_utf8(units), &back));
  EXPECT_EQ(back, units);
  EXPECT_FALSE(acoustok::utf8_to_units("abc", &back));
  EXPECT_FALSE(acoustok::utf8_to_units("\xED\xA0\x80", &back));  // U+D800: beyond the mapping
  EXPECT_EQ(acoustok::join_units(units.data(), 3), "0-1-99");
}

TEST(UnitText, CollapsesRepeatsKeepingRunLengths) {
  std::vector<int> units;
  std::vector<int64_t> runs;
  acoustok::collapse_repeats({5, 5, 7, 7, 7, 5, 9}, &units, &runs);
  EXPECT_EQ(units, (std::vector<int>{5, 7, 5, 9}));
  EXPECT_EQ(runs, (std::vector<int64_t>{2, 3, 1, 1}));
}

// Token ids, lengths and frames of every held-out motif equal the Python module's.
TEST(MotifModel, EncodesLikeThePythonModule) {
  const json e = expected();
  const auto heldout = read_unit_lines(fixture("bpe/heldout.txt"));
  for (const std::string name : {"ref", "ref_dedup"}) {
    const acoustok::MotifModel model(fixture("bpe/" + name + ".model"));
    EXPECT_EQ(model.dedup(), e[name]["dedup"].get<bool>()) << name;
    EXPECT_EQ(model.vocab_size(), static_cast<int>(e[name]["pieces"].size()));
    ASSERT_EQ(heldout.size(), e[name]["heldout"].size());
    for (size_t i = 0; i < heldout.size(); ++i) {
      const acoustok::Encoding enc = model.encode(heldout[i]);
      EXPECT_EQ(enc.text(), e[name]["heldout"][i].get<std::string>()) << name << " line " << i + 1;
      const json& want = e[name]["heldout_motifs"][i];
      ASSERT_EQ(enc.motifs.size(), want.size()) << name << " line " << i + 1;
      int64_t frame = 0;
      for (size_t k = 0; k < want.size(); ++k) {
        const acoustok::Motif& m = enc.motifs[k];
        EXPECT_EQ(m.id, want[k][0].get<int>());
        EXPECT_EQ(static_cast<int>(m.length()), want[k][1].get<int>());
        EXPECT_EQ(m.frames(), want[k][2].get<int64_t>());
        EXPECT_EQ(m.frame_begin, frame);  // motifs tile the frames
        frame = m.frame_end;
      }
      EXPECT_EQ(frame, static_cast<int64_t>(heldout[i].size()));
    }
  }
}

TEST(MotifModel, UnitsNeverSeenBecomeOneUnknownSpan) {
  const acoustok::MotifModel model(fixture("bpe/ref.model"));
  const acoustok::Encoding enc = model.encode({5, 150, 151, 151, 35327, 17});
  ASSERT_EQ(enc.motifs.size(), 3u);
  EXPECT_EQ(enc.motifs[1].id, model.unk_id());
  EXPECT_EQ(enc.motif_text(enc.motifs[1]), "150-151-151-35327");
  EXPECT_EQ(enc.motifs[1].frames(), 4);
}

TEST(MotifModel, RefusesFilesThatAreNotUnitModels) {
  const std::string dir = acoustok::test::make_temp_dir("bpe-model");
  const std::string empty = dir + "/empty.model", truncated = dir + "/truncated.model";
  std::ofstream(empty).close();
  const std::string blob = acoustok::test::read_file(fixture("bpe/ref.model"));
  std::ofstream(truncated, std::ios::binary) << blob.substr(0, blob.size() / 2);
  for (const std::string& path :
       {dir + "/missing.model", empty, truncated, fixture("bpe/corpus.txt"), fixture("bpe/text.model")}) {
    try {
      acoustok::MotifModel model(path);
      ADD_FAILURE() << path << " was accepted";
    } catch (const acoustok::Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    }
  }
}

// Issue 14: SentencePiece crashes on a sentence of 32768 units or more; a
// longer line (11 minutes in one segment) is encoded in pieces whose motifs
// still tile every frame.
TEST(MotifModel, LinesLongerThanSentencePieceTakesAreEncodedInPieces) {
  const acoustok::MotifModel model(fixture("bpe/ref.model"));
  const auto heldout = read_unit_lines(fixture("bpe/heldout.txt"));
  std::vector<int> line;
  for (size_t i = 0; line.size() < 40000; ++i) {
    const std::vector<int>& l = heldout[i % heldout.size()];
    line.insert(line.end(), l.begin(), l.end());
  }
  const acoustok::Encoding enc = model.encode(line);
  int64_t frame = 0;
  for (const acoustok::Motif& m : enc.motifs) {
    ASSERT_EQ(m.frame_begin, frame);
    EXPECT_FALSE(m.unit_begin < acoustok::kMaxSentenceUnits && m.unit_end > acoustok::kMaxSentenceUnits);
    frame = m.frame_end;
  }
  EXPECT_EQ(frame, static_cast<int64_t>(line.size()));
  // The first piece is encoded exactly as the same units alone.
  const std::vector<int> head(line.begin(), line.begin() + acoustok::kMaxSentenceUnits);
  const acoustok::Encoding alone = model.encode(head);
  ASSERT_LE(alone.motifs.size(), enc.motifs.size());
  for (size_t k = 0; k < alone.motifs.size(); ++k) EXPECT_EQ(alone.motifs[k].id, enc.motifs[k].id) << k;
}

// Found by fuzzing (tests/fuzz/regressions/bpe_model): SentencePiece's own
// loader threw a foreign exception on this file; it is now an error naming it.
TEST(MotifModel, ModelsSentencePieceCannotLoadAreErrorsNamingTheFile) {
  const std::string dir = acoustok::test::fixtures_dir() + "/../fuzz/regressions/bpe_model";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    try {
      acoustok::MotifModel m(entry.path().string());
      ADD_FAILURE() << "loaded " << entry.path();
    } catch (const acoustok::Error& e) {
      EXPECT_NE(std::string(e.what()).find(entry.path().string()), std::string::npos) << e.what();
    }
  }
}
