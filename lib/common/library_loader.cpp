// SPDX-License-Identifier: MIT
#include "common/library_loader.hpp"

#include <dlfcn.h>

namespace acoustok::common {

void* open_library_beside(const void* anchor, const std::string& soname, int flags, std::string& why) {
  Dl_info self{};
  if (dladdr(anchor, &self) && self.dli_fname) {
    const std::string path = self.dli_fname;
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos) {
      if (void* handle = dlopen((path.substr(0, slash + 1) + soname).c_str(), flags)) return handle;
    }
  }
  if (void* handle = dlopen(soname.c_str(), flags)) return handle;
  const char* error = dlerror();
  why = error ? error : "not found";
  return nullptr;
}

}  // namespace acoustok::common
