// Included first by every emulated translation of a .cu file (rewrite.py puts it there): what
// nvcc defines for device code, so the sources take their device branches (e.g. __umulhi in
// common/rng.h), and the emulated runtime with its device built-ins.
#pragma once

#ifndef __CUDACC__
#define __CUDACC__ 1
#endif
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 900
#endif

#include <cuda_runtime.h>
