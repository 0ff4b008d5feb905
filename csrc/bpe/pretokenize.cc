#include "bpe/pretokenize.h"

namespace fe::bpe {

Pattern pattern_from_name(const std::string& name) {
  if (name == "gpt2" || name == "r50k" || name == "p50k") return Pattern::kGpt2;
  if (name == "cl100k") return Pattern::kCl100k;
  FE_FAIL(ValueError, "unknown pre-tokenizer pattern '", name, "'; expected 'gpt2' or 'cl100k'");
}

}  // namespace fe::bpe
