// The CUDA emulator's cuda_runtime.h: host runtime (csrc/cuda_emu/runtime.h) and device-side
// built-ins (csrc/cuda_emu/device.h). Found before any toolkit's because the emulated build puts
// csrc/cuda_emu/include first on the include path.
#pragma once
#include "cuda_emu/device.h"
#include "cuda_emu/runtime.h"
