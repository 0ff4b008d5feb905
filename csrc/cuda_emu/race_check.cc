// ThreadSanitizer check of the CUDA kernels on the emulator: a plain program (no Python) that runs
// every kernel of the CUDA module on small shapes, built by .ci/sanitize with -fsanitize=thread on
// the emulated .cu translations. Fibers are TSan fibers and barriers are the only happens-before
// edges between the threads of a block (scheduler.h), so a missing __syncthreads or __syncwarp
// around shared memory, or a plain write where an atomic belongs, is reported as a data race and
// fails the run. Hogwild updates of word2vec's embedding rows are declared benign in
// train_cuda.cu (FE_CUDA_BENIGN_RACE): those races are intended; nothing else is suppressed.
//
// It checks shapes and finiteness only; correctness is the Python tests' job (tests/cuda).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <random>
#include <vector>

#include "attention/params.h"
#include "blas/axpy.h"
#include "common/rng.h"
#include "cuda_emu/include/cuda_bf16.h"
#include "cuda_emu/include/cuda_fp16.h"
#include "rng/rng.h"
#include "word2vec/train_cuda.h"

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "race_check: FAILED %s\n", what);
    ++failures;
  }
}

template <class T>
std::vector<T> random_values(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  std::vector<T> v(n);
  for (auto& x : v) x = T(dist(gen));
  return v;
}

template <class T>
bool finite(const std::vector<T>& v) {
  for (const T& x : v)
    if (!std::isfinite(static_cast<float>(x))) return false;
  return true;
}

struct AttentionCase {
  const char* name;
  int64_t B, H, Tq, Tk, D;
  bool causal, lengths, padding;
  double dropout;
};

template <class T>
void run_attention(const AttentionCase& c, fe::AttnDType dtype) {
  const int64_t nq = c.B * c.Tq * c.H * c.D, nk = c.B * c.Tk * c.H * c.D;
  std::vector<T> q = random_values<T>(nq, 1), k = random_values<T>(nk, 2), v = random_values<T>(nk, 3),
                 dout = random_values<T>(nq, 4);
  std::vector<T> out(nq), dq(nq), dk(nk), dv(nk);
  std::vector<float> lse(c.B * c.H * c.Tq);
  std::vector<int64_t> lengths(c.B);
  for (int64_t b = 0; b < c.B; ++b) lengths[b] = c.Tk - b * (c.Tk / (2 * c.B));
  std::vector<uint8_t> padding(c.B * c.Tk, 0);
  for (int64_t j = 0; j < c.Tk; j += 3) padding[j] = 1;

  fe::AttentionParams p;
  p.B = c.B, p.H = c.H, p.Tq = c.Tq, p.Tk = c.Tk, p.D = c.D, p.dtype = dtype;
  const fe::AttnStrides sq{c.Tq * c.H * c.D, c.H * c.D, c.D}, sk{c.Tk * c.H * c.D, c.H * c.D, c.D};
  p.q = q.data(), p.k = k.data(), p.v = v.data(), p.out = out.data(), p.lse = lse.data();
  p.q_s = p.out_s = p.dout_s = p.dq_s = sq;
  p.k_s = p.v_s = p.dk_s = p.dv_s = sk;
  p.dout = dout.data(), p.dq = dq.data(), p.dk = dk.data(), p.dv = dv.data();
  p.causal = c.causal;
  p.key_lengths = c.lengths ? lengths.data() : nullptr;
  p.key_padding = c.padding ? padding.data() : nullptr;
  p.key_padding_sb = c.Tk;
  p.scale = 1.0 / std::sqrt(static_cast<double>(c.D));
  p.dropout_p = c.dropout;
  p.seed = 7;
  fe::attention_forward_cuda(p, nullptr);
  fe::attention_backward_cuda(p, nullptr);
  expect(finite(out) && finite(dq) && finite(dk) && finite(dv), c.name);
}

void attention() {
  const AttentionCase cases[] = {
      {"attention D=64", 2, 2, 37, 45, 64, false, false, false, 0.0},
      {"attention D=64 causal Tq>Tk", 1, 2, 70, 33, 64, true, false, false, 0.0},
      {"attention D=32 lengths + padding", 2, 1, 33, 47, 32, false, true, true, 0.0},
      {"attention D=128 causal dropout", 1, 2, 40, 40, 128, true, true, false, 0.2},
      {"attention D=256", 1, 1, 20, 17, 256, false, false, false, 0.0},
  };
  for (const auto& c : cases) run_attention<float>(c, fe::AttnDType::kFloat32);
  run_attention<__half>(cases[1], fe::AttnDType::kFloat16);
  run_attention<__nv_bfloat16>(cases[3], fe::AttnDType::kBFloat16);
}

void word2vec() {
  // 9,000 words in sentences of 9: 9 warps of >= 1024 centres, a full block of 8 and a second
  // block, so blocks run on two CPU threads at once.
  const int64_t V = 60, D = 24, S = 1000, N = 9 * S;
  std::mt19937 gen(5);
  std::vector<int32_t> ids(N);
  for (auto& x : ids) x = static_cast<int32_t>(gen() % V);
  std::vector<int64_t> offsets(S + 1), counts(V, 0);
  for (int64_t s = 0; s <= S; ++s) offsets[s] = 9 * s;
  for (int32_t x : ids) ++counts[x];
  std::vector<float> syn0 = random_values<float>(V * D, 6), syn1(V * D, 0.0f);
  for (float& x : syn0) x *= 0.05f;
  fe::w2v::Word2VecCuda model(syn0.data(), syn1.data(), V, D, ids.data(), N, offsets.data(), S, counts.data());
  struct Mode {
    const char* name;
    bool sg, shared;
  };
  const Mode modes[] = {{"word2vec skip-gram", true, false}, {"word2vec skip-gram shared", true, true},
                        {"word2vec cbow", false, false}};
  int64_t epoch = 0;
  for (const Mode& m : modes) {
    fe::w2v::TrainParams p;
    p.sg = m.sg, p.shared_negatives = m.shared, p.window = 3, p.negative = 5, p.epochs = 3, p.epoch = epoch++;
    p.sample = 1e-2;
    model.train_epoch(p, nullptr);
    expect(p.trained_words > 0 && p.pairs > 0 && std::isfinite(p.loss), m.name);
  }
  model.download(syn0.data(), syn1.data());
  expect(finite(syn0) && finite(syn1), "word2vec weights");
}

void small_kernels() {
  std::vector<float> x = random_values<float>(5000, 8), y = random_values<float>(5000, 9);
  fe::axpy_cuda<float>(5000, 0.5f, x.data(), 1, y.data(), 1, nullptr);
  std::vector<uint32_t> bits(3001), cpu(3001);
  fe::rng_fill_u32_cuda(3, 1, 5, 3001, bits.data(), nullptr);
  for (uint64_t i = 0; i < cpu.size(); ++i) cpu[i] = fe::philox_u32(3, 1, 5 + i);
  expect(bits == cpu, "philox fill");
}

}  // namespace

int main() {
  try {
    small_kernels();
    attention();
    word2vec();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "race_check: %s\n", e.what());
    return 1;
  }
  std::printf("race_check: %s\n", failures ? "FAILED" : "all kernels ran");
  return failures ? 1 : 0;
}
