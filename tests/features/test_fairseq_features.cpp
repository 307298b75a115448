// SPDX-License-Identifier: MIT
// fairseq wav2vec2 / HuBERT checkpoints (.pt) and Hugging Face HuBERT
// variants as feature models, against a PyTorch reference structured as
// fairseq's models (tests/fixtures/gen_fairseq_fixtures.py); HuBERT units
// through a textlesslib-style km.bin equal scikit-learn's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "acoustok/audio_io.hpp"
#include "acoustok/error.hpp"
#include "acoustok/features.hpp"
#include "acoustok/kmeans.hpp"
#include "acoustok/process.hpp"
#include "acoustok/tensor_file.hpp"
#include "features/fairseq_checkpoint.hpp"
#include "features/torch/wav2vec2_loader.hpp"
#include "feature_test_util.hpp"
#include "test_util.hpp"

using acoustok::test::error_of;
using acoustok::test::fixture;
using acoustok::test::load;
using acoustok::test::speech;

namespace {

std::string ckpt(const std::string& name) { return fixture("fairseq/" + name); }

void expect_matches_reference(const acoustok::Features& f, const std::string& ref_name) {
  acoustok::test::expect_matches_reference(f, "fairseq/refs", ref_name);
}

}  // namespace

// {"cfg": DictConfig, "model": ...}: HuBERT, group-norm front end, post-LN,
// input not normalised (cfg.task.normalize false).
TEST(FairseqFeatures, HubertCfgCheckpointMatchesTheReference) {
  for (int layer : {1, 3}) {
    auto fx = load(ckpt("hubert_cfg.pt"), layer);
    EXPECT_EQ(fx->model_name(), "hubert_cfg");
    EXPECT_EQ(fx->num_layers(), 3);
    EXPECT_FALSE(fx->normalizes_input());
    expect_matches_reference(fx->extract(speech().data(), speech().size()),
                             "hubert_cfg_L" + std::to_string(layer));
  }
}

// {"args": Namespace, "model": ...}: wav2vec2 with layer-norm convs, conv
// bias, pre-LN blocks, normalised input, parametrized weight norm.
TEST(FairseqFeatures, Wav2Vec2ArgsCheckpointMatchesTheReference) {
  for (int layer : {1, 2}) {
    auto fx = load(ckpt("wav2vec2_args.pt"), layer);
    EXPECT_TRUE(fx->normalizes_input());
    expect_matches_reference(fx->extract(speech().data(), speech().size()),
                             "wav2vec2_args_L" + std::to_string(layer));
  }
}

// Hugging Face HuBERT with conv_pos_batch_norm (and no projection layer norm).
TEST(FairseqFeatures, HubertBatchNormVariantMatchesTheReference) {
  auto fx = load(ckpt("hubert_bn"), 2);
  expect_matches_reference(fx->extract(speech().data(), speech().size()), "hubert_bn_L2");
}

// textlesslib / fairseq dump_km_label.py: km.bin (joblib MiniBatchKMeans)
// over HuBERT layer-3 features gives scikit-learn's units, every frame.
TEST(FairseqFeatures, HubertUnitsThroughKmBinEqualScikitLearn) {
  auto fx = load(ckpt("hubert_cfg.pt"), 3);
  const acoustok::Features f = fx->extract(speech().data(), speech().size());
  const auto km = acoustok::KMeansModel::load(ckpt("km.bin"));
  ASSERT_EQ(km.dim(), f.dim);
  const std::vector<int32_t> units = km.predict(f.data.data(), f.frames);
  std::ifstream in(ckpt("refs/hubert_cfg_L3_units.txt"));
  std::vector<int32_t> expected;
  for (int32_t u; in >> u;) expected.push_back(u);
  EXPECT_EQ(units, expected);
}

// Blocks above the asked layer, the final layer norm, the trainer's state
// and pre-training keys are never read.
TEST(FairseqFeatures, LoaderReadsOnlyTheBlocksItRuns) {
  auto m = acoustok::features::open_fairseq_checkpoint(ckpt("hubert_cfg.pt"));
  acoustok::features::Wav2Vec2 net(m.config, 1);
  acoustok::features::load_wav2vec2_weights(*net, m.config, *m.weights);
  EXPECT_FALSE(m.weights->names_read().empty());
  for (const auto& name : m.weights->names_read()) {
    EXPECT_EQ(name.find("encoder.layers.1."), std::string::npos) << name;
    EXPECT_EQ(name.find("encoder.layers.2."), std::string::npos) << name;
    EXPECT_TRUE(m.weights->contains(name)) << name;
  }
  EXPECT_EQ(m.weights->names_read().count("encoder.layers.0.feed_forward.output_dense.weight"), 1u);
  // The missing tensor belongs to block 2: layer 1 still loads.
  EXPECT_NO_THROW(load(ckpt("missing_tensor.pt"), 1));
}

// Bad checkpoints: one error naming the file and the key.
TEST(FairseqFeatures, BadCheckpointsAreRefusedByName) {
  std::string e = error_of([] { load(ckpt("missing_tensor.pt"), 3); });
  EXPECT_NE(e.find(ckpt("missing_tensor.pt")), std::string::npos) << e;
  EXPECT_NE(e.find("missing tensor 'model.encoder.layers.1.fc1.weight'"), std::string::npos) << e;
  e = error_of([] { load(ckpt("evil_cfg.pt"), 1); });
  EXPECT_NE(e.find(ckpt("evil_cfg.pt")), std::string::npos) << e;
  EXPECT_NE(e.find("'posix.system'"), std::string::npos) << e;
  e = error_of([] { load(ckpt("unknown_arch.pt"), 1); });
  EXPECT_NE(e.find("'cfg.model._name' is 'data2vec_audio'"), std::string::npos) << e;
  e = error_of([] { load(ckpt("hubert_cfg.pt"), 4); });
  EXPECT_NE(e.find(ckpt("hubert_cfg.pt")), std::string::npos) << e;
  EXPECT_NE(e.find("layer 4 is out of range"), std::string::npos) << e;
  // A Hugging Face pytorch_model.bin is not a checkpoint.
  e = error_of([] { load(fixture("xlsr/xlsr_bin/pytorch_model.bin"), 1); });
  EXPECT_NE(e.find("not a fairseq checkpoint"), std::string::npos) << e;
}
