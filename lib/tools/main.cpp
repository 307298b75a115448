// acoustok: the command line of the offline trainers (see README.md).
// Exit status: 0 success, 2 bad usage, 1 failed run (one line on stderr).
#include <cstdio>
#include <exception>
#include <string>

#include "acoustok/error.hpp"
#include "commands.hpp"

namespace acoustok::tools {
int exit_status = 0;
}

int main(int argc, char** argv) {
  CLI::App app{"acoustok: speech to discrete units, motifs and back"};
  app.name("acoustok");
  app.set_version_flag("--version", std::string("acoustok ") + ACOUSTOK_VERSION);
  app.require_subcommand(1);
  acoustok::tools::add_segment_command(app);
#if ACOUSTOK_HAVE_TORCH
  acoustok::tools::add_vocoder_command(app);
  acoustok::tools::add_synth_command(app);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive as "errors" with exit code 0.
    if (e.get_exit_code() == 0) return app.exit(e);
    app.exit(e);
    return 2;
  } catch (const acoustok::Error& e) {
    std::fprintf(stderr, "acoustok: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "acoustok: unexpected error: %s\n", e.what());
    return 1;
  }
  return acoustok::tools::exit_status;
}
