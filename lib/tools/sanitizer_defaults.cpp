// SPDX-License-Identifier: MIT
// LeakSanitizer's defaults for the `acoustok` program (and test programs that
// load a model through the library) when built with
// AddressSanitizer (tests/asan/run.sh); nothing otherwise.
//
// The program loads LibTorch only when a command needs a model, as in the
// release build: under ASan its load costs 2 s of every run (hundreds of
// libraries, tens of thousands of intercepted allocations), which most runs
// in the test suites (segment, kmeans, units on given features, errors) do
// not need. GCC 12's LeakSanitizer crashes in its exit scan of the dynamic
// TLS of threads a dlopen'ed LibTorch started ("Tracer caught signal 11"),
// so that TLS is not scanned as a root here (use_tls=0). That can only add
// reports, never hide one: those it adds (all of them are blocks of the C
// and OpenMP runtimes) are suppressed below by the function that allocated
// them, and any other fails the test that ran the program.
#if defined(__SANITIZE_ADDRESS__)

extern "C" {

__attribute__((visibility("default"), used)) const char* __lsan_default_options() { return "use_tls=0"; }

// What lives only behind thread-local pointers, none of it acoustok's:
// glibc's table of dynamic TLS blocks (grown by dlopen), its dlerror buffer
// and list of thread_local destructors; libgomp's data for the main thread,
// made when the loader sets LibTorch's thread count. And GLib's one-off
// block from a library constructor: GLib comes in with LibTorch's
// dependencies (OpenCV, GStreamer), and this program never calls it.
__attribute__((visibility("default"), used)) const char* __lsan_default_suppressions() {
  return "leak:_dl_resize_dtv\n"
         "leak:_dlerror_run\n"
         "leak:_dl_exception_create\n"
         "leak:__cxa_thread_atexit_impl\n"
         "leak:acoustok::common::torch_backend()\n"
         "leak:libglib-2.0.so\n";
}

}  // extern "C"

#endif
