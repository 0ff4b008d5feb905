// word2vec training on a CUDA device: skip-gram (per-pair or shared negatives) and CBOW with
// negative sampling, the GPU twin of train.h (same TrainParams semantics; see train.h for the
// papers and the rules: subsampling, window shrinking, gensim's no-update outside [-6, 6], the
// linear learning-rate schedule, −log σ loss summed in double).
//
// Design (train_cuda.cu):
// - The weights, the corpus and the word counts are uploaded once (constructor) and stay on the
//   device across epochs; download() copies the weights back.
// - Each epoch: subsampling draws one Philox number per corpus position, a prefix sum (CUB)
//   compacts the kept words into one stream (with each kept word's original position, for the
//   learning rate, and each sentence's kept range), then one kernel trains every kept word as a
//   centre. One warp trains one centre at a time, the vector dimension D spread over its 32
//   lanes (lane l owns elements l, l + 32, ...), dot products by warp-shuffle reductions. Warps
//   take contiguous chunks of the kept stream, so concurrent updates are far apart in the corpus
//   (Hogwild across warps: plain global-memory adds, races accepted, as on the CPU).
// - Each warp keeps its window in shared memory: context ids (2·window), outputs (negative + 1),
//   e (D) and, for CBOW, h (D); up to 8 warps per block, fewer when that does not fit (a
//   ValueError when even one warp does not).
// - Randomness is Philox (common/rng.h) keyed by (seed, epoch) with one subsequence per kept
//   position, so the draws do not depend on the launch shape. The update order between warps
//   does, so runs are not bitwise repeatable.
// - The negative-sampling alias table and the subsampling thresholds are built on the host exactly
//   as the CPU trainer builds them (AliasSampler, keep_thresholds in sampler.h).
//
// Left out on purpose: multi-GPU, fp16 weights, the per-10000-words progress callback (an epoch
// is one kernel), and a bitwise-deterministic mode.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "word2vec/train.h"

namespace fe::w2v {

class Word2VecCuda {
 public:
  // Host arrays: syn0 and syn1neg (V, D) float32, ids (n_ids) int32 in [0, V) over
  // [offsets[0], offsets[n_sentences]), offsets (n_sentences + 1) int64 non-decreasing within
  // [0, n_ids], counts (V) int64 >= 0. Everything is copied to the current CUDA device (the one
  // the object then uses); the host arrays are not kept.
  Word2VecCuda(const float* syn0, const float* syn1neg, int64_t V, int64_t D, const int32_t* ids, int64_t n_ids,
               const int64_t* offsets, int64_t n_sentences, const int64_t* counts);
  ~Word2VecCuda();
  Word2VecCuda(const Word2VecCuda&) = delete;
  Word2VecCuda& operator=(const Word2VecCuda&) = delete;

  // Trains epoch p.epoch on the device weights, on `stream` (a cudaStream_t; null = the legacy
  // default stream), waits for it, and fills p.loss, p.trained_words and p.pairs. Reads p.sg,
  // cbow_mean, shared_negatives, window, negative, epochs, epoch, sample, alpha, min_alpha,
  // ns_exponent and seed; the array fields, V, D, n_sentences and workers are ignored (the
  // uploaded arrays are used). Throws fe::ValueError for bad settings.
  void train_epoch(TrainParams& p, void* stream);

  // Copies the device weights into host arrays of shape (V, D) (synchronous).
  void download(float* syn0, float* syn1neg) const;

  int64_t vocab_size() const { return V_; }
  int64_t vector_size() const { return D_; }
  int64_t corpus_words() const { return N_; }

 private:
  int device_ = 0;
  int64_t V_ = 0, D_ = 0, N_ = 0, S_ = 0;  // words, dimension, corpus words, sentences
  std::vector<int64_t> counts_;           // host copy: the alias table and thresholds come from it
  // Device buffers (all owned, freed by the destructor).
  float* syn0_ = nullptr;          // (V, D)
  float* syn1neg_ = nullptr;       // (V, D)
  int32_t* ids_ = nullptr;         // (N,) the corpus, ids[offsets[0]:offsets[S]]
  int64_t* offsets_ = nullptr;     // (S + 1,) sentence starts relative to offsets[0]
  int64_t* kept_pos_ = nullptr;    // (N + 1,) keep flags, then (in place) their exclusive prefix sum
  int64_t* kept_orig_ = nullptr;   // (N,) the original position of each kept word
  int32_t* kept_ids_ = nullptr;    // (N,) the kept words in corpus order
  int64_t* kept_off_ = nullptr;    // (S + 1,) each sentence's start in the kept stream
  uint32_t* thresholds_ = nullptr; // (V,) subsampling keep thresholds (2^32 scale)
  uint32_t* alias_ = nullptr;      // (V, 2) alias table columns: (prob, alias)
  float* tables_ = nullptr;        // (2, 1001) σ and log σ over [-6, 6]
  double* loss_ = nullptr;         // the epoch's loss accumulator
  unsigned long long* pairs_ = nullptr;  // the epoch's pair counter
  void* scan_temp_ = nullptr;      // CUB scan workspace
  size_t scan_temp_bytes_ = 0;
  mutable std::mutex mutex_;  // one call at a time (the bindings release the GIL)
  // What the alias table and thresholds on the device were built for (rebuilt on change).
  bool built_ = false;
  double built_sample_ = 0.0, built_exponent_ = 0.0;

  void free_all() noexcept;
  void build_tables(double sample, double ns_exponent);
};

}  // namespace fe::w2v
