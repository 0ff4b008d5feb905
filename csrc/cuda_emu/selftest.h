// Small kernels that pin down the CUDA emulator's semantics (csrc/cuda_emu/selftest.cu), run by
// tests/cuda/test_emulator.py through fastembed._C_cuda_emu. Built into the emulated module only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fe_emu {

// Runs the named check and returns what its kernel wrote; a failed launch throws fe::RuntimeError
// with the emulator's description. names() lists the checks.
std::vector<int64_t> selftest(const std::string& name);
std::vector<std::string> selftest_names();

// Bits of float -> __half / __nv_bfloat16 conversions (the _rn intrinsics), for the tests.
void float_to_half_bits(const float* x, int64_t n, uint16_t* out);
void float_to_bfloat16_bits(const float* x, int64_t n, uint16_t* out);

}  // namespace fe_emu
