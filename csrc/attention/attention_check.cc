// Argument rules that the CPU and CUDA attention kernels share (see params.h).
#include <cmath>

#include "attention/params.h"
#include "common/error.h"

namespace fe {

void attention_check_params(const AttentionParams& p, bool backward, const char* fn) {
  FE_CHECK(p.B >= 1 && p.H >= 1 && p.D >= 1, ValueError, fn, ": B, H and D must be >= 1, got B=", p.B,
           " H=", p.H, " D=", p.D);
  FE_CHECK(p.Tq >= 0 && p.Tk >= 0, ValueError, fn, ": sequence lengths must be >= 0, got Tq=", p.Tq, " Tk=", p.Tk);
  FE_CHECK(std::isfinite(p.scale), ValueError, fn, ": scale must be finite, got ", p.scale);
  FE_CHECK(p.dropout_p >= 0.0 && p.dropout_p < 1.0, ValueError, fn, ": dropout_p must be in [0, 1), got ",
           p.dropout_p);
  const bool work = p.Tq > 0;
  if (work) {
    FE_CHECK(p.q && p.out && p.lse, ValueError, fn, ": q, out and lse must not be null");
    if (p.Tk > 0) FE_CHECK(p.k && p.v, ValueError, fn, ": k and v must not be null");
  }
  if (backward) {
    if (work) FE_CHECK(p.dout && p.dq, ValueError, fn, ": dout and dq must not be null");
    if (p.Tk > 0) FE_CHECK(p.dk && p.dv, ValueError, fn, ": dk and dv must not be null");
  }
}

}  // namespace fe
