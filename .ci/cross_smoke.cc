// A program that runs the core's kernels once each, for .ci/aarch64: built there for aarch64 (the
// NEON baseline, the only dispatch level on that architecture) and run under qemu-aarch64, and
// built for this machine too. Floating-point kernels are checked here against plain loops
// (tolerances as in the Python tests); exact results (Philox words, dropout masks, int8 codes, BPE
// merges) are printed, and the script requires both builds to print the same lines.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "attention/params.h"
#include "blas/axpy.h"
#include "bpe/train.h"
#include "dispatch/kernels.h"
#include "nn/epilogue.h"
#include "nn/quantize.h"
#include "rng/rng.h"

namespace {

int failures = 0;

void expect_close(const char* what, const std::vector<float>& got, const std::vector<double>& want, double atol) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::fmax(worst, std::fabs(got[i] - want[i]));
  const bool ok = worst <= atol && got.size() == want.size();
  std::fprintf(stderr, "%s %s: max |error| %.3g (bound %.1g)\n", ok ? "ok  " : "FAIL", what, worst, atol);
  failures += !ok;
}

uint64_t fnv(const void* data, size_t n) {  // FNV-1a, to print exact results in one line
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(data)[i]) * 1099511628211ull;
  return h;
}

std::vector<float> uniform(int64_t n, uint64_t seed) {
  std::vector<float> x(static_cast<size_t>(n));
  fe::rng_fill_uniform_cpu(seed, 0, 0, n, x.data());
  for (float& v : x) v = 2 * v - 1;
  return x;
}

void check_axpy() {
  const int64_t n = 100003;  // not a multiple of any vector width
  std::vector<float> x = uniform(n, 1), y = uniform(n, 2);
  std::vector<double> want(y.begin(), y.end());
  for (int64_t i = 0; i < n; ++i) want[i] += 0.5 * x[i];
  fe::axpy_cpu<float>(n, 0.5f, x.data(), 1, y.data(), 1);
  expect_close("axpy", y, want, 1e-6);
}

void check_attention(bool causal) {
  const int64_t B = 2, H = 3, T = 37, D = 24;
  std::vector<float> q = uniform(B * T * H * D, 3), k = uniform(B * T * H * D, 4), v = uniform(B * T * H * D, 5);
  std::vector<float> out(q.size()), lse(B * H * T);
  fe::AttentionParams p;
  p.B = B, p.H = H, p.Tq = T, p.Tk = T, p.D = D;
  p.q = q.data(), p.k = k.data(), p.v = v.data(), p.out = out.data(), p.lse = lse.data();
  const fe::AttnStrides s{T * H * D, H * D, D};
  p.q_s = p.k_s = p.v_s = p.out_s = s;
  p.causal = causal;
  p.scale = 1.0 / std::sqrt(static_cast<double>(D));
  fe::attention_check_params(p, false, "cross_smoke");
  fe::attention_forward_cpu(p);
  std::vector<double> want(q.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        auto at = [&](const std::vector<float>& a, int64_t t, int64_t d) {
          return double(a[b * s.b + t * s.t + h * s.h + d]);
        };
        std::vector<double> w(T, 0.0);
        double m = -INFINITY, z = 0;
        const int64_t last = causal ? i : T - 1;
        for (int64_t j = 0; j <= last; ++j) {
          for (int64_t d = 0; d < D; ++d) w[j] += at(q, i, d) * at(k, j, d) * p.scale;
          m = std::fmax(m, w[j]);
        }
        for (int64_t j = 0; j <= last; ++j) z += (w[j] = std::exp(w[j] - m));
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j <= last; ++j) acc += w[j] / z * at(v, j, d);
          want[b * s.b + i * s.t + h * s.h + d] = acc;
        }
      }
  expect_close(causal ? "attention forward, causal" : "attention forward", out, want, 1e-5);
}

void check_bias_gelu() {
  const int64_t rows = 5, cols = 77;
  std::vector<float> y = uniform(rows * cols, 6), bias = uniform(cols, 7);
  std::vector<double> want(y.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const double x = 3.0 * y[r * cols + c] + bias[c];
      want[r * cols + c] = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    }
  for (float& v : y) v *= 3;
  fe::bias_gelu_cpu(y.data(), rows, cols, cols, bias.data());
  expect_close("bias + GELU", y, want, 1e-5);
}

void print_exact() {
  std::vector<uint32_t> words(1000);
  fe::rng_fill_u32_cpu(42, 7, 3, 1000, words.data());
  std::printf("philox words %08x %08x fnv %016llx\n", words[0], words[1],
              static_cast<unsigned long long>(fnv(words.data(), words.size() * 4)));

  std::vector<uint8_t> mask(2 * 3 * 33 * 45);
  fe::attention_dropout_mask_cpu(2, 3, 33, 45, 0.1, 1234, 0, mask.data());
  std::printf("dropout mask fnv %016llx\n", static_cast<unsigned long long>(fnv(mask.data(), mask.size())));

  const int64_t rows = 7, cols = 130;
  std::vector<float> x = uniform(rows * cols, 8), row_scale(rows);
  std::vector<int8_t> codes(x.size());
  fe::quantize_rows_s8_cpu(x.data(), rows, cols, cols, nullptr, codes.data(), row_scale.data());
  std::printf("int8 codes fnv %016llx scales fnv %016llx\n",
              static_cast<unsigned long long>(fnv(codes.data(), codes.size())),
              static_cast<unsigned long long>(fnv(row_scale.data(), row_scale.size() * 4)));

  const std::vector<std::string_view> corpus = {"low", "lower", "newest", "widest", "the", "then", "there"};
  const std::vector<int64_t> counts = {5, 2, 6, 3, 20, 4, 4};
  const std::vector<fe::bpe::Merge> merges = fe::bpe::train_bpe(corpus, counts, 12, 2);
  std::printf("bpe merges:");
  for (const auto& m : merges) std::printf(" %u+%u", m.left, m.right);
  std::printf("\n");
}

}  // namespace

int main() {
  const auto chosen = fe::dispatch::select("", "");
  std::fprintf(stderr, "dispatch level %s (compiled:", chosen.level.c_str());
  for (const auto& l : chosen.compiled) std::fprintf(stderr, " %s", l.c_str());
  std::fprintf(stderr, ")\n");
  check_axpy();
  check_attention(false);
  check_attention(true);
  check_bias_gelu();
  print_exact();
  return failures == 0 ? 0 : 1;
}
