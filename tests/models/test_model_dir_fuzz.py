"""Fuzzing the model-directory loaders (load_bert, load_gpt2, Embedder) with damaged
``config.json`` and ``model.safetensors`` files: every load either works (and the model runs) or
raises ValueError or an OSError naming the problem. A MemoryError, any other exception, a crash
or a hang fails. Loads run in one child process whose address space is capped at 1 GiB above its
start (tests/models/_dir_child.py), so a config that claims a huge model cannot take the machine."""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from fastembed.models import GPT, GPTConfig  # noqa: E402
from fastembed.models.hf import save_gpt2  # noqa: E402
from tests._tiny import save_tiny_bert  # noqa: E402

from ..tokenizers.test_loaders_fuzz import Child, mutate  # noqa: E402

ALLOWED = {"ValueError", "OSError"}        # FileNotFoundError, IsADirectoryError, ... are OSErrors
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"]
FUZZ = settings(max_examples=int(os.environ.get("FASTEMBED_FUZZ_EXAMPLES", 60)), deadline=None, derandomize="FASTEMBED_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def child():
    c = Child("tests.models._dir_child")
    yield c
    c.close()


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    root = tmp_path_factory.mktemp("dirs")
    save_tiny_bert(root / "bert", VOCAB, hidden_size=16, num_heads=2, intermediate_size=32, max_position=16,
                   num_layers=1)
    save_gpt2(GPT(GPTConfig(vocab_size=40, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, max_position=16)), root / "gpt2")
    return root


def check(child, loader: str, directory) -> None:
    got = child.load(loader, [str(directory)])
    assert got["outcome"] == "ok" or ALLOWED & set(got["bases"]), got


@pytest.mark.parametrize("loader,kind", [("bert", "bert"), ("gpt2", "gpt2"), ("embedder", "bert")])
def test_the_originals_load(child, originals, loader, kind):
    assert child.load(loader, [str(originals / kind)])["outcome"] == "ok"


@FUZZ
@given(data=st.data(), loader=st.sampled_from(["bert", "gpt2", "embedder"]),
       damaged=st.sampled_from(["config.json", "model.safetensors"]))
def test_damaged_model_directories(child, originals, tmp_path_factory, data, loader, damaged):
    kind = "gpt2" if loader == "gpt2" else "bert"
    work = tmp_path_factory.mktemp("case")
    shutil.copytree(originals / kind, work / kind)
    path = work / kind / damaged
    path.write_bytes(data.draw(mutate(path.read_bytes())))
    check(child, loader, work / kind)
    shutil.rmtree(work)
