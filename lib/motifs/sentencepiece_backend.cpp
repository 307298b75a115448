// SPDX-License-Identifier: MIT
#include "motifs/sentencepiece_backend.hpp"

#include <dlfcn.h>

#include <mutex>

#include "acoustok/error.hpp"
#include "common/library_loader.hpp"
#include "config.h"

namespace acoustok::motifs {
namespace {

// A symbol every protobuf copy defines (SentencePiece's bundled one too), in
// both C++ ABIs.
constexpr const char* kProtobufProbes[] = {
    "_ZNK6google8protobuf11MessageLite25InitializationErrorStringB5cxx11Ev",
    "_ZNK6google8protobuf11MessageLite25InitializationErrorStringEv"};

bool protobuf_in_global_scope() {
  for (const char* symbol : kProtobufProbes) {
    if (dlsym(RTLD_DEFAULT, symbol)) return true;
  }
  return false;
}

// The sanitizers' runtimes refuse RTLD_DEEPBIND (it would bypass their
// interceptors): under them the scope is RTLD_LOCAL alone.
bool deepbind_allowed() {
  for (const char* runtime : {"__asan_init", "__tsan_init", "__msan_init", "__hwasan_init", "__lsan_init"}) {
    if (dlsym(RTLD_DEFAULT, runtime)) return false;
  }
  return true;
}

// True when std::cerr, as SentencePiece would bind it under RTLD_DEEPBIND
// (libstdc++'s own definition), is not the stream the process uses: a C++
// program that names std::cerr gets a copy of it (a copy relocation) which
// libstdc++ constructs instead of its own, so that one stays unconstructed.
bool deepbind_breaks_cerr() {
  void* process_cerr = dlsym(RTLD_DEFAULT, "_ZSt4cerr");
  void* libstdcxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_NOLOAD);
  if (!libstdcxx) return false;
  void* own_cerr = dlsym(libstdcxx, "_ZSt4cerr");
  dlclose(libstdcxx);
  return process_cerr && own_cerr && process_cerr != own_cerr;
}

struct Loaded {
  const SentencePieceBackend* table = nullptr;
  bool log_usable = true;
};

Loaded load_backend() {
  // RTLD_LOCAL alone isolates SentencePiece whenever no protobuf is global
  // yet: its own protobuf then resolves first. RTLD_DEEPBIND is kept for a
  // process that already holds one globally (a program linked with
  // LibTorch), because DEEPBIND has a cost of its own: SentencePiece's
  // std::cerr may be an unconstructed copy (deepbind_breaks_cerr).
  int flags = RTLD_NOW | RTLD_LOCAL;
  Loaded loaded;
  if (protobuf_in_global_scope()) {
    if (!deepbind_allowed()) {
      // Without a scope searched first, SentencePiece would bind to that
      // protobuf and crash: refuse instead.
      throw Error(
          "cannot load SentencePiece: this process already has a protobuf library in its global symbol scope "
          "(a program linked with LibTorch?) and runs under a sanitizer, which forbids RTLD_DEEPBIND");
    }
    flags |= RTLD_DEEPBIND;
    loaded.log_usable = !deepbind_breaks_cerr();
  }
  std::string why;
  void* handle = common::open_library_beside(reinterpret_cast<const void*>(&sentencepiece_backend),
                                             "libacoustok-sentencepiece.so." ACOUSTOK_SOVERSION, flags, why);
  if (!handle) throw Error("cannot load acoustok's SentencePiece library (BPE motifs): " + why);
  using Getter = const SentencePieceBackend* (*)();
  auto get = reinterpret_cast<Getter>(dlsym(handle, "acoustok_sentencepiece_backend"));
  loaded.table = get ? get() : nullptr;
  if (!loaded.table || loaded.table->abi != kSentencePieceBackendAbi)
    throw Error("libacoustok-sentencepiece does not match this libacoustok-motifs (a mixed installation?)");
  return loaded;
}

const Loaded& loaded_backend() {
  static std::mutex mutex;
  static Loaded loaded;
  std::lock_guard<std::mutex> lock(mutex);
  if (!loaded.table) loaded = load_backend();
  return loaded;
}

}  // namespace

const SentencePieceBackend& sentencepiece_backend() { return *loaded_backend().table; }

bool sentencepiece_log_usable() { return loaded_backend().log_usable; }

}  // namespace acoustok::motifs
