// SPDX-License-Identifier: MIT
// SentencePiece, isolated. libsentencepiece carries its own copy of
// protobuf-lite and exports its symbols; LibTorch links Debian's libprotobuf,
// which exports the same names. Wherever both sit in one symbol scope, one
// copy's code runs on the other's objects (SIGSEGV in
// ReflectionOps::FindInitializationErrors when libprotobuf starts), so
// libacoustok-motifs does not link SentencePiece: it loads
// libacoustok-sentencepiece, the only library that does, in a scope of its
// own (RTLD_LOCAL: its protobuf never enters the global scope; and, only
// when a protobuf is global already, RTLD_DEEPBIND so its own still wins),
// and talks to it through this table. Only libstdc++ types and the abstract
// classes below cross; objects are deleted by the side that made them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace acoustok::motifs {

// Why a call failed: SentencePiece's status text, or the exception it threw.
struct SpmError {
  bool threw = false;
  std::string message;
};

struct SpmPiece {
  int id;
  uint32_t begin, end;  // byte offsets in the encoded text
};

// One loaded model (a SentencePieceProcessor). const methods: thread-safe.
class SpmProcessor {
 public:
  virtual ~SpmProcessor() = default;
  virtual int size() const = 0;
  virtual bool is_byte(int id) const = 0;
  virtual bool is_control(int id) const = 0;
  virtual bool is_unknown(int id) const = 0;
  virtual bool is_unused(int id) const = 0;
  virtual const std::string& id_to_piece(int id) const = 0;
  virtual int piece_to_id(const std::string& piece) const = 0;
  virtual int unk_id() const = 0;
  virtual float score(int id) const = 0;
  virtual bool encode(const std::string& text, std::vector<SpmPiece>* pieces, SpmError* error) const = 0;
};

// The training corpus, one sentence at a time (SentencePiece's SentenceIterator).
class SpmSentences {
 public:
  virtual ~SpmSentences() = default;
  virtual bool done() const = 0;
  virtual const std::string& value() const = 0;
  virtual void next() = 0;
  virtual const std::string& error() const = 0;  // empty while the corpus reads well
};

struct SentencePieceBackend {
  int abi;  // kSentencePieceBackendAbi of the library that filled it
  // A model from a file (serialized false) or from a serialized ModelProto;
  // nullptr and *error when SentencePiece refuses it.
  std::unique_ptr<SpmProcessor> (*load)(const std::string& path_or_bytes, bool serialized, SpmError* error);
  void (*set_random_seed)(unsigned seed);
  // SentencePieceTrainer::Train; false and *error on failure.
  bool (*train)(const std::unordered_map<std::string, std::string>& arguments, SpmSentences* corpus,
                std::string* model, SpmError* error);
};

// Bumped whenever the table or the classes above change.
constexpr int kSentencePieceBackendAbi = 1;

// libacoustok-sentencepiece's table ("acoustok_sentencepiece_backend", extern "C").
extern "C" const SentencePieceBackend* acoustok_sentencepiece_backend();

// Loads libacoustok-sentencepiece (from libacoustok-motifs' own folder, else
// the loader's search path) on first call; throws acoustok::Error with the
// reason when it cannot be loaded in isolation.
const SentencePieceBackend& sentencepiece_backend();

// False when SentencePiece had to be bound first to its own dependencies in
// a process whose std::cerr it would then not see constructed: its log must
// stay off there (minloglevel above FATAL's).
bool sentencepiece_log_usable();

}  // namespace acoustok::motifs
