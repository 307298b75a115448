// SPDX-License-Identifier: MIT
// Phase 3: the vocoder's training log and its latest sample.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "acoustok/error.hpp"
#include "report/audio_clip.hpp"
#include "report/chart.hpp"
#include "report/json_file.hpp"
#include "report/section.hpp"

namespace acoustok::report {
namespace {

std::string to_s(const fs::path& p) { return p.string(); }

}  // namespace

Section training_section(const fs::path& dir, const Options& opt, Counters& n) {
  Section sec{3, "Phase 3 \xC2\xB7 vocoder training", to_s(dir), ""};
  const std::string path = to_s(dir / "training_log.json");
  const JsonFile jf{path};
  const json doc = read_json_file(path);
  jf.array(doc, "the document");
  const char* const keys[] = {"loss_g",  "loss_mel",    "loss_d",     "loss_adv",
                              "loss_fm", "heldout_mel", "heldout_mcd"};
  std::map<std::string, std::vector<double>> v;
  std::vector<double> epochs;
  double seconds = 0, best_epoch = kNaN, best = kNaN, lr = kNaN, patience = kNaN, patience_limit = kNaN,
         steps = kNaN;
  int warnings = 0;
  std::string metric = "mel";
  for (size_t i = 0; i < doc.size(); ++i) {
    const std::string where = "[" + std::to_string(i) + "]";
    const json& r = jf.object(doc[i], where);
    epochs.push_back(jf.number(r, "epoch", where));
    for (const char* k : keys) v[k].push_back(jf.number_or_nan(r, k, where));
    seconds += jf.opt_number(r, "seconds", where).value_or(0);
    if (auto b = jf.opt_number(r, "best_epoch", where)) best_epoch = *b;
    if (auto b = jf.opt_number(r, "best_heldout", where))
      best = *b;
    else if (auto b2 = jf.opt_number(r, "best_heldout_mel", where))
      best = *b2;
    if (auto m = jf.opt_string(r, "early_stop_metric", where)) metric = *m;
    lr = jf.number_or_nan(r, "lr", where);
    patience = jf.number_or_nan(r, "patience", where);
    patience_limit = jf.number_or_nan(r, "patience_limit", where);
    steps = jf.number_or_nan(r, "steps", where);
    if (jf.opt_string(r, "warning", where)) ++warnings;
  }
  sec.body += stats_table(
      "training",
      {
          {"epochs logged", integer(static_cast<int64_t>(epochs.size())) +
                                (epochs.empty() ? "" : " (last: " + num(epochs.back(), 12) + ")")},
          {"steps per epoch", num(steps, 12)},
          {"best held-out " + metric,
           num(best) + (std::isfinite(best_epoch) ? " at epoch " + num(best_epoch, 12) : "")},
          {"patience", num(patience, 12) + " of " + num(patience_limit, 12) + " epochs"},
          {"learning rate (last epoch)", num(lr)},
          {"training time", duration_text(seconds)},
          {"epochs with a discriminator-collapse warning", integer(warnings)},
      });
  auto series = [&](const char* key, bool dashed = false) { return Series{key, epochs, v[key], dashed}; };
  const std::string best_label = std::isfinite(best_epoch) ? "best epoch " + num(best_epoch, 12) : "";
  sec.body +=
      figure(line_chart("generator-losses", "Generator losses", "epoch", "loss (mean over the epoch)",
                        {series("loss_g"), series("loss_mel")}),
             "<code>loss_g</code> = <code>loss_mel</code> + <code>loss_fm</code> + <code>loss_adv</code>; "
             "<code>loss_mel</code> is 45 \xC3\x97 L1 between log-mel spectrograms.");
  sec.body +=
      figure(line_chart("discriminator-losses", "Adversarial losses", "epoch", "loss (mean over the epoch)",
                        {series("loss_d"), series("loss_adv"), series("loss_fm")}),
             "Discriminator loss, the generator's adversarial loss and its feature-matching loss.");
  sec.body += figure(line_chart("heldout-mel", "Held-out mel loss", "epoch", "45 \xC3\x97 L1 log-mel",
                                {series("heldout_mel"), series("loss_mel", true)}, best_epoch, best_label),
                     "Mel loss of the synthesis of the held-out segments after each epoch, with the training "
                     "mel loss (dashed) for comparison.");
  n.charts += 3;
  bool any_mcd = false;
  for (double x : v["heldout_mcd"]) any_mcd = any_mcd || std::isfinite(x);
  if (any_mcd) {
    sec.body += figure(line_chart("heldout-mcd", "Held-out mel-cepstral distortion", "epoch", "MCD (dB)",
                                  {series("heldout_mcd")}, best_epoch, metric == "mcd" ? best_label : ""),
                       "MCD of the held-out segments' synthesis after each epoch (lower is better).");
    ++n.charts;
  }

  // The latest sample_epoch_XXXX.wav, if any.
  if (opt.audio_seconds > 0) {
    std::vector<std::string> samples;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.rfind("sample_epoch_", 0) == 0 && name.size() > 4 &&
          name.compare(name.size() - 4, 4, ".wav") == 0 && name.find(".tmp-") == std::string::npos)
        samples.push_back(name);
    }
    if (!samples.empty()) {
      std::sort(samples.begin(), samples.end());
      std::vector<float> x;
      std::string html;
      if (read_wav_for_report(to_s(dir / samples.back()), x, html, opt, n))
        html = player_html(samples.back(), x, opt.audio_seconds, n);
      sec.body +=
          "<h3>Latest training sample</h3>\n<p>Synthesis of the first held-out segment written during "
          "training.</p>\n" +
          html + "\n";
    }
  }
  return sec;
}

}  // namespace acoustok::report
