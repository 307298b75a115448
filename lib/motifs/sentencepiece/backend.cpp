// SPDX-License-Identifier: MIT
// libacoustok-sentencepiece: the one library that links SentencePiece (and
// with it SentencePiece's private protobuf-lite), loaded by libacoustok-motifs
// in a symbol scope of its own (motifs/sentencepiece_backend.hpp). No
// exception leaves it: SentencePiece's are turned into SpmError.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <exception>

#include "motifs/sentencepiece_backend.hpp"

namespace acoustok::motifs {
namespace {

class Processor final : public SpmProcessor {
 public:
  bool load(const std::string& path_or_bytes, bool serialized, SpmError* error) {
    try {
      const auto status = serialized ? sp_.LoadFromSerializedProto(path_or_bytes) : sp_.Load(path_or_bytes);
      if (status.ok()) return true;
      *error = {false, status.ToString()};
    } catch (const std::exception& e) {  // its trie refuses some garbage by throwing
      *error = {true, e.what()};
    }
    return false;
  }

  int size() const override { return sp_.GetPieceSize(); }
  bool is_byte(int id) const override { return sp_.IsByte(id); }
  bool is_control(int id) const override { return sp_.IsControl(id); }
  bool is_unknown(int id) const override { return sp_.IsUnknown(id); }
  bool is_unused(int id) const override { return sp_.IsUnused(id); }
  const std::string& id_to_piece(int id) const override { return sp_.IdToPiece(id); }
  int piece_to_id(const std::string& piece) const override { return sp_.PieceToId(piece); }
  int unk_id() const override { return sp_.unk_id(); }
  float score(int id) const override { return sp_.GetScore(id); }

  bool encode(const std::string& text, std::vector<SpmPiece>* pieces, SpmError* error) const override {
    try {
      sentencepiece::ImmutableSentencePieceText spt;
      const auto status = sp_.Encode(text, spt.mutable_proto());
      if (!status.ok()) {
        *error = {false, status.ToString()};
        return false;
      }
      pieces->clear();
      pieces->reserve(spt.pieces_size());
      for (size_t k = 0; k < spt.pieces_size(); ++k) {
        const auto p = spt.pieces(static_cast<int>(k));
        pieces->push_back({static_cast<int>(p.id()), p.begin(), p.end()});
      }
      return true;
    } catch (const std::exception& e) {
      *error = {true, e.what()};
      return false;
    }
  }

 private:
  sentencepiece::SentencePieceProcessor sp_;
};

// SentencePiece's iterator over ours; a corpus error ends the iteration with
// an error status.
class Sentences final : public sentencepiece::SentenceIterator {
 public:
  explicit Sentences(SpmSentences* corpus) : corpus_(corpus) {}
  bool done() const override { return corpus_->done(); }
  void Next() override { corpus_->next(); }
  const std::string& value() const override { return corpus_->value(); }
  sentencepiece::util::Status status() const override {
    if (corpus_->error().empty()) return sentencepiece::util::Status();
    return sentencepiece::util::Status(sentencepiece::util::StatusCode::kInvalidArgument, corpus_->error());
  }

 private:
  SpmSentences* corpus_;
};

std::unique_ptr<SpmProcessor> load(const std::string& path_or_bytes, bool serialized, SpmError* error) {
  auto p = std::make_unique<Processor>();
  if (!p->load(path_or_bytes, serialized, error)) return nullptr;
  return p;
}

void set_random_seed(unsigned seed) { sentencepiece::SetRandomGeneratorSeed(seed); }

bool train(const std::unordered_map<std::string, std::string>& arguments, SpmSentences* corpus,
           std::string* model, SpmError* error) {
  try {
    Sentences sentences(corpus);
    const auto status = sentencepiece::SentencePieceTrainer::Train(arguments, &sentences, model);
    if (status.ok()) return true;
    *error = {false, status.ToString()};
  } catch (const std::exception& e) {
    *error = {true, e.what()};
  }
  return false;
}

const SentencePieceBackend table = {kSentencePieceBackendAbi, load, set_random_seed, train};

}  // namespace
}  // namespace acoustok::motifs

extern "C" __attribute__((visibility("default"))) const acoustok::motifs::SentencePieceBackend*
acoustok_sentencepiece_backend() {
  return &acoustok::motifs::table;
}
