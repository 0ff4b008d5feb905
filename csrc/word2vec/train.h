// word2vec training: skip-gram and CBOW with negative sampling (Mikolov et al., "Distributed
// Representations of Words and Phrases and their Compositionality", 2013), Hogwild threads
// (Recht et al. 2011: lock-free updates of shared weights).
//
// Semantics follow word2vec.c and gensim so results are comparable:
// - frequent-word subsampling: word w with count c is kept with probability
//   min(1, (sqrt(c / (sample·N)) + 1) · sample·N / c), N = total words (0 disables);
// - window shrinking: each centre word uses a window b uniform in [1, window];
// - skip-gram: for each centre w and context word c in its window, the input vector of c
//   (syn0[c]) is pushed toward the output vector of w (syn1neg[w]) and away from `negative`
//   words drawn from unigram^0.75 (a draw equal to w is skipped):
//     g = alpha · (label − σ(u·v)),  v_c += Σ g·u,  u += g·v_c,
//   with σ from a table over [-6, 6] and no update for a pair whose score is outside it (gensim's
//   rule; the loss is still counted exactly);
// - CBOW: the input is the mean (cbow_mean) or sum of the window's input vectors, the output the
//   centre word; the input's gradient is added to every window word;
// - the learning rate falls linearly from alpha to min_alpha over all epochs, as a function of
//   the words processed by all threads.
//
// shared_negatives (skip-gram only): the pairs of a window share negatives, as in pWord2Vec (Ji et
// al., "Parallelizing Word2Vec in Shared and Distributed Memory", 2016): one draw for the context
// words before the centre and one for those after, so a window fetches 2·`negative` random output
// rows instead of `negative` per pair. The pairs still run one after another as in word2vec.c
// (each sees the output rows as the previous pair left them). Measured against gensim here
// (benchmarks/word2vec.py), pWord2Vec's batched form (all scores from the old vectors, then two
// small matrix products) lost about 0.5 points of 3CosMul analogy accuracy, and one draw for the
// whole window about 0.2 of 3CosAdd; this form loses none.
//
// One call trains one epoch (so Python can report the loss and run callbacks between epochs);
// the learning rate continues the linear schedule of `epochs` epochs from epoch `epoch`.
// Threads: worker t trains sentences [share_t, share_t+1) (shares balanced by word count)
// exactly once per epoch, with its own SplitMix64 stream of (seed, epoch, t). One worker gives
// bit-identical vectors for a seed; several race on shared rows (Hogwild) and are not bitwise
// repeatable.
#pragma once

#include <cstdint>

#include "common/progress.h"
#include "word2vec/sampler.h"  // keep_thresholds

namespace fe::w2v {

struct TrainParams {
  float* syn0 = nullptr;     // (V, D) input vectors, updated in place
  float* syn1neg = nullptr;  // (V, D) output vectors, updated in place
  int64_t V = 0, D = 0;
  const int32_t* ids = nullptr;      // token ids of the corpus, in [0, V)
  const int64_t* offsets = nullptr;  // sentence s is ids[offsets[s], offsets[s + 1])
  int64_t n_sentences = 0;
  const int64_t* counts = nullptr;  // (V,) word counts: negative sampling and subsampling
  bool sg = true;
  bool cbow_mean = true;
  bool shared_negatives = false;
  int64_t window = 5, negative = 5;
  int64_t epochs = 5;  // of the whole run (for the learning-rate schedule)
  int64_t epoch = 0;   // the one this call trains, in [0, epochs)
  double sample = 1e-3;
  double alpha = 0.025, min_alpha = 1e-4;
  double ns_exponent = 0.75;
  uint64_t seed = 1;
  int64_t workers = 1;  // Hogwild shares of the corpus; they run on min(workers, num_threads()) threads
  // Outputs of the epoch: summed loss (−log σ of positives and of negated negatives, summed in
  // double), the words trained after subsampling, and the (centre, output) pairs updated.
  double loss = 0.0;
  int64_t trained_words = 0;
  int64_t pairs = 0;
};

// Argument rules (fe::ValueError naming the field).
void check_train_params(const TrainParams& p);
// Trains epoch p.epoch and fills p's outputs; progress counts corpus words. Throws fe::Cancelled
// when cancelled.
void train_epoch(TrainParams& p, Progress* progress = nullptr);

// Tests: one update of one centre word with the given context words and negatives, through the
// trainer's own code. mode 0: skip-gram (each context word in turn, all with these negatives),
// 1: CBOW.
// Returns the loss of the update.
double train_step_for_testing(const TrainParams& p, int mode, int32_t centre, const int32_t* contexts,
                              int64_t n_contexts, const int32_t* negatives, int64_t n_negatives, float alpha);


}  // namespace fe::w2v
