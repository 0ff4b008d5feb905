// The CUDA emulator's cuda_bf16.h (csrc/cuda_emu/half.h).
#pragma once
#include "cuda_emu/half.h"
