// word2vec's argument rules (train.h), compiled once for the baseline: the training loops in
// train.cc are compiled once per dispatch level and all call this.
#include <cmath>

#include "common/error.h"
#include "word2vec/train.h"

namespace fe::w2v {

void check_train_params(const TrainParams& p) {
  constexpr const char* fn = "word2vec";
  FE_CHECK(p.V >= 1 && p.V < (int64_t{1} << 31), ValueError, fn, ": vocabulary size must be in [1, 2^31), got ", p.V);
  FE_CHECK(p.D >= 1, ValueError, fn, ": vector_size must be >= 1, got ", p.D);
  FE_CHECK(p.window >= 1, ValueError, fn, ": window must be >= 1, got ", p.window);
  FE_CHECK(p.negative >= 1, ValueError, fn, ": negative must be >= 1, got ", p.negative);
  FE_CHECK(p.epochs >= 1 && p.epoch >= 0 && p.epoch < p.epochs, ValueError, fn, ": epoch ", p.epoch,
           " is outside [0, epochs = ", p.epochs, ")");
  FE_CHECK(p.sample >= 0.0, ValueError, fn, ": sample must be >= 0, got ", p.sample);
  FE_CHECK(p.alpha > 0.0 && p.min_alpha >= 0.0 && std::isfinite(p.alpha), ValueError, fn,
           ": alpha must be > 0 and min_alpha >= 0, got ", p.alpha, " and ", p.min_alpha);
  FE_CHECK(p.workers >= 1, ValueError, fn, ": workers must be >= 1, got ", p.workers);
  FE_CHECK(p.n_sentences >= 0 && p.offsets, ValueError, fn, ": missing sentence offsets");
  FE_CHECK(p.syn0 && p.syn1neg && p.counts && (p.ids || p.offsets[p.n_sentences] == p.offsets[0]), ValueError, fn,
           ": null array");
}

}  // namespace fe::w2v
