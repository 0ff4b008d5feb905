"""``fastembed.predict.load(..., precision=)`` and ``fastembed predict --precision``: the encoder's
products run at that precision (its layers are converted), the scores stay close to fp32's, and
a precision the CPU cannot run natively falls back to fp32 with a warning."""

from __future__ import annotations

import json

import pytest
import torch

from fastembed.cli import main
from fastembed.finetune import finetune, text_examples
from fastembed.models import precision as P
from fastembed.predict import load

from .test_load import TEXTS, tiny_dir  # noqa: F401  (fixture)

pytest.importorskip("fastembed.finetune.export")


@pytest.fixture(scope="module")
def classifier(tiny_dir, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("cls")
    train = text_examples(TEXTS, ["pos", "pos", "neg", "neg", "pos", "neg"])
    finetune("classify", tiny_dir, train, train, epochs=1, batch_size=2, out_dir=out)
    return out / "model"


def scores(pipe):
    return torch.tensor([[r["score"]] for r in pipe(TEXTS)])


@pytest.mark.parametrize("precision,layer", [("int8", P.Int8Linear), ("bf16", P.Bf16Linear)])
def test_load_at_a_lower_precision_converts_the_encoder_and_keeps_the_scores(classifier, precision, layer):
    if precision == "bf16" and not P.cpu_has_bf16():
        pytest.skip("this CPU has no native bf16 (the fallback is tested below)")
    fp32, low = load(classifier), load(classifier, precision=precision)
    assert fp32.precision == "fp32" and low.precision == precision
    assert sum(isinstance(m, layer) for m in low.model.modules()) == 4 * 2      # 2 layers, 4 products each
    assert not any(isinstance(m, P._LowPrecisionLinear) for m in fp32.model.modules())
    assert [r["label"] for r in low(TEXTS)] == [r["label"] for r in fp32(TEXTS)]
    torch.testing.assert_close(scores(low), scores(fp32), rtol=0, atol=0.02)


def test_bf16_without_cpu_support_warns_and_runs_fp32(classifier, monkeypatch):
    monkeypatch.setattr(P, "cpu_has_bf16", lambda: False)
    with pytest.warns(P.PrecisionFallbackWarning, match="bf16.*float32"):
        pipe = load(classifier, precision="bf16")
    assert pipe.precision == "fp32"
    assert not any(isinstance(m, P._LowPrecisionLinear) for m in pipe.model.modules())


def test_cli_predict_precision(classifier, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(TEXTS) + "\n")
    outs = {}
    for precision in ("fp32", "int8"):
        out = tmp_path / f"{precision}.jsonl"
        assert main(["predict", "--model", str(classifier), "--input", str(src), "-o", str(out),
                     "--precision", precision, "--quiet"]) == 0
        outs[precision] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["label"] for r in outs["int8"]] == [r["label"] for r in outs["fp32"]]
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(classifier), "--input", str(src), "--precision", "fp16"])
    assert "invalid choice: 'fp16'" in capsys.readouterr().err
