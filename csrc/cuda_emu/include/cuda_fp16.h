// The CUDA emulator's cuda_fp16.h (csrc/cuda_emu/half.h).
#pragma once
#include "cuda_emu/half.h"
