// word2vec training loops (see train.h for the semantics and the papers).
#include "word2vec/train.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/parallel.h"
#include "common/prefetch.h"
#include "common/rng.h"
#include "word2vec/sampler.h"
#include "word2vec/vecops.h"

#include "common/isa.h"

#ifndef FE_ISA_NS
#error "compiled once per dispatch level by setup.py (-DFE_ISA_NS=isa_<level>; csrc/README.md, Runtime dispatch)"
#endif

namespace fe::w2v {
FE_ISA_BEGIN
namespace {

// σ and log σ from tables over [-kMaxExp, kMaxExp], as word2vec.c and gensim do (a table lookup
// is several times cheaper than exp); beyond it σ saturates to 0 or 1.
constexpr float kMaxExp = 6.0f;
constexpr int kTable = 1000;

struct Tables {
  float sigmoid[kTable + 1];
  float log_sigmoid[kTable + 1];
  Tables() {
    for (int i = 0; i <= kTable; ++i) {
      const double x = (2.0 * i / kTable - 1.0) * kMaxExp;
      sigmoid[i] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
      log_sigmoid[i] = static_cast<float>(-std::log1p(std::exp(-x)));
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}

inline int table_index(float f) { return static_cast<int>((f + kMaxExp) * (kTable / (2 * kMaxExp)) + 0.5f); }

// g / alpha = label − σ(f); 0 outside the table, where σ is saturated: the pair is left alone, as
// gensim does (word2vec.c instead pushes with label − 0 or label − 1 there). NaN gives 0 too (the
// loss, NaN, reports the divergence).
inline float grad_scale(float f, float label, const Tables& t) {
  if (!(f > -kMaxExp && f < kMaxExp)) return 0.0f;
  return label - t.sigmoid[table_index(f)];
}
// −log σ(x): the loss of one (score, label) pair is nll(f) for a positive, nll(−f) for a negative.
inline double nll(float x, const Tables& t) {
  if (std::isnan(x)) return std::numeric_limits<double>::quiet_NaN();  // diverged: Python reports it
  if (x >= kMaxExp) return std::exp(-static_cast<double>(x));
  if (x <= -kMaxExp) return -static_cast<double>(x) + std::log1p(std::exp(static_cast<double>(x)));
  return -static_cast<double>(t.log_sigmoid[table_index(x)]);
}

using vec::axpy;
using vec::dot;

struct Worker {
  const TrainParams& p;
  const AliasSampler* sampler;
  const Tables& t = tables();
  const bool prefetchw = cpu_has_prefetchw();
  SplitMix64 rng;
  float alpha = 0.0f;
  double loss = 0.0;
  int64_t pairs = 0;
  std::vector<float> neu1, neu1e;
  std::vector<float*> in_rows;
  std::vector<int32_t> ctx, negs, drawn;

  Worker(const TrainParams& p_, const AliasSampler* s, uint64_t stream) : p(p_), sampler(s), rng(stream) {
    neu1.resize(static_cast<size_t>(p.D));
    neu1e.resize(static_cast<size_t>(p.D));
  }

  // `negative` draws, those equal to the centre dropped (word2vec.c skips them).
  // Their output rows are prefetched: they are random rows of a matrix larger than the caches.
  const std::vector<int32_t>& draw_negatives(int32_t centre) {
    negs.clear();
    for (int64_t d = 0; d < p.negative; ++d) {
      const int32_t target = sampler->sample(rng.next());
      if (target == centre) continue;
      negs.push_back(target);
      prefetch_row(p.syn1neg + target * p.D);
    }
    return negs;
  }
  // For writing: the row is updated next, maybe after another thread's update of it (Hogwild).
  void prefetch_row(const float* row) const {
    for (int64_t i = 0; i < p.D; i += 16) prefetch_for_write(row + i, prefetchw);
  }

  // negs = the K draws at `draws` that differ from the centre (word2vec.c skips a draw equal to it).
  void take_negatives(int32_t centre, const int32_t* draws) {
    negs.clear();
    for (int64_t d = 0; d < p.negative; ++d)
      if (draws[d] != centre) negs.push_back(draws[d]);
  }

  // True when no target repeats: then every score can come from the old vectors at once, which
  // is exactly word2vec.c's sequential loop (a target is updated only after its own score).
  bool distinct_targets(int32_t centre, const std::vector<int32_t>& negatives) {
    if (negatives.size() + 1 > static_cast<size_t>(vec::kMaxRows)) return false;
    for (size_t a = 0; a < negatives.size(); ++a) {
      if (negatives[a] == centre) return false;
      for (size_t b = a + 1; b < negatives.size(); ++b)
        if (negatives[a] == negatives[b]) return false;
    }
    return true;
  }

  // One input vector `v` (a context word's, or CBOW's window mean) against the centre's output
  // vector and the negatives: word2vec.c's inner loop. Adds the input's gradient to `e`.
  void score_and_update(float* v, int32_t centre, const std::vector<int32_t>& negatives, float* e) {
    const int64_t D = p.D;
    if (distinct_targets(centre, negatives)) {
      const int k = static_cast<int>(negatives.size()) + 1;
      float* rows[vec::kMaxRows];
      float f[vec::kMaxRows], g[vec::kMaxRows];
      rows[0] = p.syn1neg + centre * D;
      for (int s = 1; s < k; ++s) rows[s] = p.syn1neg + negatives[s - 1] * D;
      vec::dots(v, rows, k, D, f);
      for (int s = 0; s < k; ++s) {
        const float label = s == 0 ? 1.0f : 0.0f;
        loss += nll(s == 0 ? f[s] : -f[s], t);
        g[s] = grad_scale(f[s], label, t) * alpha;
      }
      vec::combine_and_update(e, v, g, rows, k, D);
      pairs += k;
      return;
    }
    for (size_t d = 0; d <= negatives.size(); ++d) {
      const int32_t target = d == 0 ? centre : negatives[d - 1];
      const float label = d == 0 ? 1.0f : 0.0f;
      float* u = p.syn1neg + target * D;
      const float f = dot(v, u, D);
      loss += nll(label > 0 ? f : -f, t);
      const float g = grad_scale(f, label, t) * alpha;
      axpy(g, u, e, D);
      axpy(g, v, u, D);
      ++pairs;
    }
  }

  // Skip-gram: one (context input, centre output) pair and its negatives.
  void sg_pair(int32_t centre, int32_t context, const std::vector<int32_t>& negatives) {
    const int64_t D = p.D;
    float* v = p.syn0 + context * D;
    float* e = neu1e.data();
    std::fill(e, e + D, 0.0f);
    score_and_update(v, centre, negatives, e);
    axpy(1.0f, e, v, D);
  }

  // CBOW: mean (or sum) of the context inputs predicts the centre.
  void cbow(int32_t centre, const std::vector<int32_t>& negatives) {
    const int64_t D = p.D, m = static_cast<int64_t>(ctx.size());
    float* h = neu1.data();
    float* e = neu1e.data();
    std::fill(e, e + D, 0.0f);
    in_rows.resize(static_cast<size_t>(m));
    for (int64_t r = 0; r < m; ++r) in_rows[r] = p.syn0 + ctx[r] * D;
    const float inv = 1.0f / static_cast<float>(m);
    vec::sum_rows(h, in_rows.data(), m, p.cbow_mean ? inv : 1.0f, D);
    score_and_update(h, centre, negatives, e);
    if (!p.cbow_mean)  // gensim: spread the error of a sum over its terms
      for (int64_t i = 0; i < D; ++i) e[i] *= inv;
    for (float* row : in_rows) axpy(1.0f, e, row, D);
  }

  // Positions [lo, hi) around i: a window shrunk to a random width in [1, window], as word2vec.c.
  std::pair<int64_t, int64_t> window(int64_t i, int64_t n) {
    const int64_t win = p.window - static_cast<int64_t>(rng.below(static_cast<uint64_t>(p.window)));
    return {std::max<int64_t>(0, i - win), std::min<int64_t>(n, i + win + 1)};
  }

  void sentence(const int32_t* w, int64_t n) {
    if (p.sg && !p.shared_negatives) {
      for (int64_t i = 0; i < n; ++i) {
        const auto [lo, hi] = window(i, n);
        for (int64_t j = lo; j < hi; ++j) {
          if (j == i) continue;
          if (j + 1 < hi) prefetch_row(p.syn0 + w[j + 1] * p.D);
          sg_pair(w[i], w[j], draw_negatives(w[i]));
        }
      }
      return;
    }
    // Shared negatives: one draw for the context words before the centre and one for those after
    // (skip-gram); CBOW: one draw per centre. The whole sentence's draws are made first: each is
    // a load from a random bucket of the alias table (larger than L2), and a loop of independent
    // draws lets those misses overlap instead of stalling one word at a time. Then, while word i
    // trains, the output rows that word i + 1 will touch are prefetched.
    const int64_t K = p.negative, per = p.sg ? 2 * K : K;
    drawn.resize(static_cast<size_t>(n * per));
    for (int64_t x = 0; x < n * per; ++x) drawn[static_cast<size_t>(x)] = sampler->sample(rng.next());
    for (int64_t i = 0; i < n; ++i) {
      const auto [lo, hi] = window(i, n);
      if (i + 1 < n) {
        for (int64_t d = 0; d < per; ++d)
          prefetch_row(p.syn1neg + drawn[static_cast<size_t>((i + 1) * per + d)] * p.D);
        prefetch_row(p.syn1neg + w[i + 1] * p.D);
        prefetch_row(p.syn0 + w[std::min<int64_t>(n - 1, i + 1 + p.window)] * p.D);
      }
      const int32_t* draws = drawn.data() + i * per;
      if (p.sg) {  // word2vec.c's loop over the window; the pairs of each side share one draw
        take_negatives(w[i], draws);
        for (int64_t j = lo; j < i; ++j) sg_pair(w[i], w[j], negs);
        take_negatives(w[i], draws + K);
        for (int64_t j = i + 1; j < hi; ++j) sg_pair(w[i], w[j], negs);
        continue;
      }
      take_negatives(w[i], draws);
      ctx.clear();
      for (int64_t j = lo; j < hi; ++j)
        if (j != i) ctx.push_back(w[j]);
      if (!ctx.empty()) cbow(w[i], negs);
    }
  }
};

// Sentence ranges [cut[t], cut[t+1]) with about equal word counts.
std::vector<int64_t> shares(const TrainParams& p, int64_t workers) {
  std::vector<int64_t> cut{0};
  const int64_t total = p.offsets[p.n_sentences] - p.offsets[0];
  int64_t s = 0;
  for (int64_t t = 1; t < workers; ++t) {
    const int64_t target = p.offsets[0] + total * t / workers;
    while (s < p.n_sentences && p.offsets[s + 1] <= target) ++s;
    cut.push_back(std::max(cut.back(), s));
  }
  cut.push_back(p.n_sentences);
  return cut;
}

}  // namespace

void train_epoch(TrainParams& p, Progress* progress) {
  check_train_params(p);
  const AliasSampler sampler(p.counts, p.V, p.ns_exponent);
  std::vector<uint32_t> keep(static_cast<size_t>(p.V));
  keep_thresholds(p.counts, p.V, p.sample, keep.data());
  const int64_t corpus_words = p.offsets[p.n_sentences] - p.offsets[0];
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(p.workers, std::max<int64_t>(1, p.n_sentences)));
  const std::vector<int64_t> cut = shares(p, workers);
  const double run_words = static_cast<double>(corpus_words) * static_cast<double>(p.epochs);
  std::atomic<int64_t> done{0};
  std::vector<double> loss(static_cast<size_t>(workers), 0.0);
  std::vector<int64_t> trained(static_cast<size_t>(workers), 0), pairs(static_cast<size_t>(workers), 0);
  if (progress) progress->total.store(corpus_words);
  constexpr int64_t kReport = 10000;  // words between learning-rate updates and progress reports

  // Shares run on min(workers, fastembed threads) threads; each share exactly once.
  parallel_for(0, workers, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        SplitMix64 seeder(p.seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(p.epoch + 1)));
        for (int64_t i = 0; i <= t; ++i) seeder.next();
        Worker w(p, &sampler, seeder.next());
        std::vector<int32_t> kept;
        int64_t pending = 0, n_trained = 0;
        auto set_alpha = [&] {
          const double frac = (static_cast<double>(p.epoch) * corpus_words + done.load(std::memory_order_relaxed)) /
                              std::max(1.0, run_words);
          w.alpha = static_cast<float>(std::max(p.min_alpha, p.alpha - (p.alpha - p.min_alpha) * frac));
        };
        set_alpha();
        for (int64_t s = cut[t]; s < cut[t + 1]; ++s) {
          const int32_t* ids = p.ids + p.offsets[s];
          const int64_t n = p.offsets[s + 1] - p.offsets[s];
          kept.clear();
          for (int64_t i = 0; i < n; ++i) {
            const int32_t id = ids[i];
            if (p.sample > 0.0 && keep[static_cast<size_t>(id)] < static_cast<uint32_t>(w.rng.next())) continue;
            kept.push_back(id);
          }
          n_trained += static_cast<int64_t>(kept.size());
          w.sentence(kept.data(), static_cast<int64_t>(kept.size()));
          pending += n;
          if (pending >= kReport) {
            done.fetch_add(pending, std::memory_order_relaxed);
            progress_step(progress, pending);
            pending = 0;
            set_alpha();
          }
        }
        done.fetch_add(pending, std::memory_order_relaxed);
        progress_step(progress, pending);
        loss[static_cast<size_t>(t)] = w.loss;
        trained[static_cast<size_t>(t)] = n_trained;
        pairs[static_cast<size_t>(t)] = w.pairs;
      }
  });
  p.loss = 0.0;
  p.trained_words = 0;
  p.pairs = 0;
  for (int64_t t = 0; t < workers; ++t) {
    p.loss += loss[static_cast<size_t>(t)];
    p.trained_words += trained[static_cast<size_t>(t)];
    p.pairs += pairs[static_cast<size_t>(t)];
  }
}

double train_step_for_testing(const TrainParams& p, int mode, int32_t centre, const int32_t* contexts,
                              int64_t n_contexts, const int32_t* negatives, int64_t n_negatives, float alpha) {
  Worker w(p, nullptr, 0);
  w.alpha = alpha;
  const std::vector<int32_t> negs(negatives, negatives + n_negatives);
  w.ctx.assign(contexts, contexts + n_contexts);
  if (mode == 0)
    for (int64_t j = 0; j < n_contexts; ++j) w.sg_pair(centre, contexts[j], negs);
  else
    w.cbow(centre, negs);
  return w.loss;
}

FE_ISA_END
}  // namespace fe::w2v
