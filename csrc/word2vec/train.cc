// word2vec training loops (see train.h for the semantics and the papers).
#include "word2vec/train.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "common/error.h"
#include "common/parallel.h"
#include "common/rng.h"
#include "word2vec/sampler.h"

namespace fe::w2v {
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

// g / alpha = label − σ(f), with σ saturated outside the table (word2vec.c's rule).
inline float grad_scale(float f, float label, const Tables& t) {
  if (!(f < kMaxExp)) return label - 1.0f;  // NaN too: never index the table with it
  if (f <= -kMaxExp) return label;
  return label - t.sigmoid[table_index(f)];
}
// −log σ(x): the loss of one (score, label) pair is nll(f) for a positive, nll(−f) for a negative.
inline double nll(float x, const Tables& t) {
  if (std::isnan(x)) return std::numeric_limits<double>::quiet_NaN();  // diverged: Python reports it
  if (x >= kMaxExp) return std::exp(-static_cast<double>(x));
  if (x <= -kMaxExp) return -static_cast<double>(x) + std::log1p(std::exp(static_cast<double>(x)));
  return -static_cast<double>(t.log_sigmoid[table_index(x)]);
}

inline float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
inline void axpy(float alpha, const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

struct Worker {
  const TrainParams& p;
  const AliasSampler* sampler;
  const Tables& t = tables();
  SplitMix64 rng;
  float alpha = 0.0f;
  double loss = 0.0;
  int64_t pairs = 0;
  std::vector<float> neu1, neu1e, grads;
  std::vector<int32_t> ctx, outs, negs;
  std::vector<float> labels;

  Worker(const TrainParams& p_, const AliasSampler* s, uint64_t stream) : p(p_), sampler(s), rng(stream) {
    neu1.resize(static_cast<size_t>(p.D));
    neu1e.resize(static_cast<size_t>(p.D));
  }

  // `negative` draws, those equal to the centre dropped (word2vec.c skips them).
  const std::vector<int32_t>& draw_negatives(int32_t centre) {
    negs.clear();
    for (int64_t d = 0; d < p.negative; ++d) {
      const int32_t target = sampler->sample(rng.next());
      if (target != centre) negs.push_back(target);
    }
    return negs;
  }

  // One (context input, centre output) pair and its negatives: word2vec.c's inner loop.
  void sg_pair(int32_t centre, int32_t context, const std::vector<int32_t>& negatives) {
    const int64_t D = p.D;
    float* v = p.syn0 + context * D;
    float* e = neu1e.data();
    std::fill(e, e + D, 0.0f);
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
    axpy(1.0f, e, v, D);
  }

  // All context words of one centre against one shared draw of negatives (pWord2Vec).
  void sg_shared(int32_t centre, const std::vector<int32_t>& negatives) {
    const int64_t D = p.D, m = static_cast<int64_t>(ctx.size());
    outs.assign(1, centre);
    labels.assign(1, 1.0f);
    for (int32_t target : negatives) {
      outs.push_back(target);
      labels.push_back(0.0f);
    }
    const int64_t k = static_cast<int64_t>(outs.size());
    grads.resize(static_cast<size_t>(m * k + (m + k) * D));
    float* G = grads.data();       // (m, k) gradient scales
    float* din = G + m * k;        // (m, D) input deltas
    float* dout = din + m * D;     // (k, D) output deltas
    for (int64_t r = 0; r < m; ++r) {
      const float* v = p.syn0 + ctx[r] * D;
      for (int64_t s = 0; s < k; ++s) {
        const float f = dot(v, p.syn1neg + outs[s] * D, D);
        loss += nll(labels[s] > 0 ? f : -f, t);
        G[r * k + s] = grad_scale(f, labels[s], t) * alpha;
      }
    }
    pairs += m * k;
    std::fill(din, din + (m + k) * D, 0.0f);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t s = 0; s < k; ++s) {
        const float g = G[r * k + s];
        axpy(g, p.syn1neg + outs[s] * D, din + r * D, D);
        axpy(g, p.syn0 + ctx[r] * D, dout + s * D, D);
      }
    for (int64_t r = 0; r < m; ++r) axpy(1.0f, din + r * D, p.syn0 + ctx[r] * D, D);
    for (int64_t s = 0; s < k; ++s) axpy(1.0f, dout + s * D, p.syn1neg + outs[s] * D, D);
  }

  // CBOW: mean (or sum) of the context inputs predicts the centre.
  void cbow(int32_t centre, const std::vector<int32_t>& negatives) {
    const int64_t D = p.D, m = static_cast<int64_t>(ctx.size());
    float* h = neu1.data();
    float* e = neu1e.data();
    std::fill(h, h + D, 0.0f);
    std::fill(e, e + D, 0.0f);
    for (int32_t c : ctx) axpy(1.0f, p.syn0 + c * D, h, D);
    const float inv = 1.0f / static_cast<float>(m);
    if (p.cbow_mean)
      for (int64_t i = 0; i < D; ++i) h[i] *= inv;
    for (size_t d = 0; d <= negatives.size(); ++d) {
      const int32_t target = d == 0 ? centre : negatives[d - 1];
      const float label = d == 0 ? 1.0f : 0.0f;
      float* u = p.syn1neg + target * D;
      const float f = dot(h, u, D);
      loss += nll(label > 0 ? f : -f, t);
      const float g = grad_scale(f, label, t) * alpha;
      axpy(g, u, e, D);
      axpy(g, h, u, D);
      ++pairs;
    }
    if (!p.cbow_mean)  // gensim: spread the error of a sum over its terms
      for (int64_t i = 0; i < D; ++i) e[i] *= inv;
    for (int32_t c : ctx) axpy(1.0f, e, p.syn0 + c * D, D);
  }

  void sentence(const int32_t* w, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t win = p.window - static_cast<int64_t>(rng.below(static_cast<uint64_t>(p.window)));  // [1, window]
      const int64_t lo = std::max<int64_t>(0, i - win), hi = std::min<int64_t>(n, i + win + 1);
      if (p.sg && !p.shared_negatives) {
        for (int64_t j = lo; j < hi; ++j)
          if (j != i) sg_pair(w[i], w[j], draw_negatives(w[i]));
        continue;
      }
      ctx.clear();
      for (int64_t j = lo; j < hi; ++j)
        if (j != i) ctx.push_back(w[j]);
      if (ctx.empty()) continue;
      if (p.sg)
        sg_shared(w[i], draw_negatives(w[i]));
      else
        cbow(w[i], draw_negatives(w[i]));
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

void keep_thresholds(const int64_t* counts, int64_t V, double sample, uint32_t* out) {
  int64_t total = 0;
  for (int64_t i = 0; i < V; ++i) total += counts[i];
  const double threshold = sample * static_cast<double>(total);
  for (int64_t i = 0; i < V; ++i) {
    double keep = 1.0;
    if (sample > 0.0 && counts[i] > 0) {
      const double c = static_cast<double>(counts[i]);
      keep = std::min(1.0, (std::sqrt(c / threshold) + 1.0) * threshold / c);
    }
    const double scaled = keep * 4294967296.0;
    out[i] = scaled >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(scaled);
  }
}

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

}  // namespace fe::w2v

namespace fe::w2v {

double train_step_for_testing(const TrainParams& p, int mode, int32_t centre, const int32_t* contexts,
                              int64_t n_contexts, const int32_t* negatives, int64_t n_negatives, float alpha) {
  Worker w(p, nullptr, 0);
  w.alpha = alpha;
  const std::vector<int32_t> negs(negatives, negatives + n_negatives);
  w.ctx.assign(contexts, contexts + n_contexts);
  if (mode == 0)
    for (int64_t j = 0; j < n_contexts; ++j) w.sg_pair(centre, contexts[j], negs);
  else if (mode == 1)
    w.sg_shared(centre, negs);
  else
    w.cbow(centre, negs);
  return w.loss;
}

}  // namespace fe::w2v
