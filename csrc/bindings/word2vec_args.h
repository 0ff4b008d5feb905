// The word2vec settings shared by the CPU trainer's binding (word2vec.cc) and the CUDA one
// (cuda_module.cc): read once, here, into w2v::TrainParams, with the same names and checks.
#pragma once

#include <pybind11/pybind11.h>

#include "bindings/args.h"
#include "word2vec/train.h"

namespace fe::bindings {

namespace py = pybind11;

// The per-epoch settings of one train_epoch call (not the arrays, which each binding owns).
inline void read_w2v_settings(w2v::TrainParams& p, const char* fn, bool sg, bool cbow_mean, bool shared_negatives,
                              py::handle window, py::handle negative, py::handle epochs, py::handle epoch,
                              py::handle sample, py::handle alpha, py::handle min_alpha, py::handle ns_exponent,
                              py::handle seed) {
  p.sg = sg;
  p.cbow_mean = cbow_mean;
  p.shared_negatives = shared_negatives;
  p.window = arg_int64(window, fn, "window");
  p.negative = arg_int64(negative, fn, "negative");
  p.epochs = arg_int64(epochs, fn, "epochs");
  p.epoch = arg_int64(epoch, fn, "epoch");
  p.sample = arg_double(sample, fn, "sample");
  p.alpha = arg_double(alpha, fn, "alpha");
  p.min_alpha = arg_double(min_alpha, fn, "min_alpha");
  p.ns_exponent = arg_double(ns_exponent, fn, "ns_exponent");
  p.seed = arg_uint64(seed, fn, "seed");
}

// What an epoch reports: {'loss', 'trained_words', 'pairs'}.
inline py::dict w2v_epoch_result(const w2v::TrainParams& p) {
  py::dict out;
  out["loss"] = p.loss;
  out["trained_words"] = p.trained_words;
  out["pairs"] = p.pairs;
  return out;
}

}  // namespace fe::bindings
