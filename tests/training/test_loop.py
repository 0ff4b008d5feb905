"""The loop: it learns, accumulation equals one big batch, metrics rows, evaluation, exact resume."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from fastembed.training import TrainConfig, evaluate, train
from fastembed.training.checkpoint import latest_checkpoint, list_checkpoints
from fastembed.training.loop import split_batch
from fastembed.training.metrics import MetricsLog, read_metrics

from .toy import StopAt, ToyData, make_model, weights


def test_overfits_one_batch():
    model = make_model(dropout=0.0)
    rows = train(model, ToyData(fixed=True), TrainConfig(steps=150, lr=3e-2, schedule="constant", log_every=10))
    first, last = rows[0], rows[-1]
    assert last["step"] == 150
    assert last["mlm_loss"] < 0.1 * first["mlm_loss"] and last["nsp_loss"] < 0.1 * first["nsp_loss"]
    assert last["mlm_accuracy"] == 1.0


def test_grad_accumulation_matches_one_big_batch():
    data = ToyData(batch_size=8)
    assert len({int((data.get_batch(0)["labels"][i] != -100).sum()) for i in range(8)}) > 1  # counts vary
    results = []
    for accum in (1, 4):
        model = make_model(dropout=0.0)
        train(model, data, TrainConfig(steps=3, lr=1e-2, warmup_steps=1, grad_accum=accum, log_every=0))
        results.append(weights(model))
    for k in results[0]:
        torch.testing.assert_close(results[1][k], results[0][k], atol=1e-6, rtol=0)


def test_split_batch_errors():
    batch = ToyData(batch_size=6).get_batch(0)
    assert [mb["input_ids"].shape[0] for mb in split_batch(batch, 3)] == [2, 2, 2]
    with pytest.raises(ValueError, match="grad_accum=4"):
        split_batch(batch, 4)
    with pytest.raises(ValueError, match="batch dimension"):
        split_batch({"a": torch.zeros(2, 3), "b": torch.zeros(3)}, 1)


def test_metrics_rows_and_file(tmp_path):
    seen = []
    config = TrainConfig(steps=5, lr=1e-2, log_every=2, eval_every=4, eval_batches=2, out_dir=str(tmp_path))
    rows = train(make_model(token_objective="lm"), ToyData(), config, eval_data=ToyData(seed=1),
                 callbacks=[seen.append])
    assert [(r["step"], r["split"]) for r in rows] == [(2, "train"), (4, "train"), (4, "dev"), (5, "train"), (5, "dev")]
    assert read_metrics(tmp_path / "metrics.jsonl") == rows == seen
    train_row, dev_row = rows[0], rows[2]
    for key in ("lr", "loss", "lm_loss", "nsp_loss", "lm_accuracy", "grad_norm", "tokens_per_s", "elapsed"):
        assert key in train_row
    assert train_row["loss"] == pytest.approx(train_row["lm_loss"] + train_row["nsp_loss"])
    assert dev_row["perplexity"] == pytest.approx(torch.tensor(dev_row["lm_loss"]).exp().item())
    assert 0.0 <= dev_row["nsp_accuracy"] <= 1.0


def test_eval_at_start_evaluates_the_untrained_model_once_and_not_on_resume(tmp_path):
    config = TrainConfig(steps=3, lr=1e-2, log_every=0, eval_batches=2, eval_at_start=True, out_dir=str(tmp_path))
    model, dev = make_model(), ToyData(seed=1)
    before = evaluate(model, dev, 2)
    rows = train(model, ToyData(), config, eval_data=dev)
    assert [(r["step"], r["split"]) for r in rows] == [(0, "dev"), (3, "train"), (3, "dev")]
    assert rows[0]["mlm_loss"] == before["mlm_loss"] != rows[2]["mlm_loss"]
    rows = train(make_model(), ToyData(), dataclasses.replace(config, steps=4), eval_data=dev, resume=True)
    assert [(r["step"], r["split"]) for r in rows] == [(0, "dev"), (3, "train"), (3, "dev"), (4, "train"), (4, "dev")]


def test_evaluate_is_exact_mean_over_batches_and_restores_train_mode():
    model, data = make_model(), ToyData(seed=3)
    model.train()
    got = evaluate(model, data, 3)
    assert model.training
    model.eval()
    with torch.no_grad():
        outs = [model(**data.get_batch(i)) for i in range(3)]
    mlm = sum(o.loss_sums["mlm"] for o in outs) / sum(o.counts["mlm"] for o in outs)
    assert got["mlm_loss"] == pytest.approx(mlm.item(), rel=1e-6)


def test_bf16_autocast_runs():
    rows = train(make_model(), ToyData(), TrainConfig(steps=2, bf16=True, log_every=1, grad_clip=None))
    assert len(rows) == 2 and "grad_norm" not in rows[0]


def test_metrics_log_drops_rows_after_resumed_step_and_torn_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in range(1, 6)) + '{"step": 6, "lo')
    with MetricsLog(path, resume_step=3) as log:
        assert [r["step"] for r in log.rows] == [1, 2, 3]
        log.write({"step": 4, "loss": 0.5})
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3, 4]
    assert path.read_text().endswith('{"step": 4, "loss": 0.5}\n')


def test_exact_resume_with_dropout(tmp_path):
    """2k steps in one go == k steps, Ctrl-C, then a new model and optimizer resume to 2k."""
    k = 4
    config = dict(steps=2 * k, lr=1e-2, warmup_steps=2, schedule="cosine", log_every=1, eval_every=k,
                  eval_batches=1, save_every=k)
    full_model = make_model(seed=0)  # dropout 0.1: resuming must restore the generators
    full = train(full_model, ToyData(), TrainConfig(**config, out_dir=str(tmp_path / "a")), eval_data=ToyData(seed=9))

    with pytest.raises(KeyboardInterrupt):  # stopped between step k and k + 1, after the save at k
        train(make_model(seed=0), StopAt(ToyData(), k), TrainConfig(**config, out_dir=str(tmp_path / "b")),
              eval_data=ToyData(seed=9))
    torch.manual_seed(12345)                 # a new process would start elsewhere: make sure it matters
    resumed_model = make_model(seed=7)
    resumed = train(resumed_model, ToyData(), TrainConfig(**config, out_dir=str(tmp_path / "b")),
                    eval_data=ToyData(seed=9), resume=True)

    def losses(rows):
        return [(r["step"], r["split"], r["loss"], r["mlm_loss"], r["nsp_loss"]) for r in rows]

    assert len(losses(full)) == 2 * k + 2
    assert losses(resumed) == losses(full)                                   # bitwise: == on floats
    assert losses(read_metrics(tmp_path / "b" / "metrics.jsonl")) == losses(full)
    for name, w in weights(full_model).items():
        assert torch.equal(weights(resumed_model)[name], w), name


def test_resume_with_nothing_to_resume(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(make_model(), ToyData(), TrainConfig(steps=2, out_dir=str(tmp_path)), resume=True)
    with pytest.raises(ValueError, match="out_dir"):
        train(make_model(), ToyData(), TrainConfig(steps=2), resume=True)


def test_model_without_loss_counts_is_refused():
    model = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match="loss_counts"):
        train(model, ToyData(), TrainConfig(steps=1))


# --------------------------------------------------------------------------- Ctrl-C keeps the work


class InterruptIn:
    """Wraps a model: raises KeyboardInterrupt on forward call ``n`` *after* the forward ran (its
    dropout has drawn from the generator), as a Ctrl-C during the backward would."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, module, args, kwargs, output):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return output


@pytest.mark.parametrize("where", ["between_steps", "inside_forward"])
def test_interrupt_saves_the_last_finished_step_and_resumes_exactly(tmp_path, where, caplog):
    """No periodic checkpoint before step 7 (save_every=100): Ctrl-C after 3 finished steps must
    save step 3, and resuming from it must end where an uninterrupted run ends, bit for bit."""
    config = {"steps": 7, "lr": 1e-2, "warmup_steps": 2, "schedule": "cosine", "log_every": 1, "save_every": 100}
    full_model = make_model(seed=0)
    train(full_model, ToyData(), TrainConfig(**config, out_dir=str(tmp_path / "a")))

    model = make_model(seed=0)
    data = ToyData()
    if where == "between_steps":
        data = StopAt(data, 3)
    else:
        model.register_forward_hook(InterruptIn(4), with_kwargs=True)     # inside step 4
    with pytest.raises(KeyboardInterrupt):
        train(model, data, TrainConfig(**config, out_dir=str(tmp_path / "b")))
    assert latest_checkpoint(tmp_path / "b").name == "step_00000003"
    assert [r.levelname for r in caplog.records if "interrupted: saved checkpoint" in r.getMessage()] == ["WARNING"]

    resumed = make_model(seed=7)
    train(resumed, ToyData(), TrainConfig(**config, out_dir=str(tmp_path / "b")), resume=True)
    for name, w in weights(full_model).items():
        assert torch.equal(weights(resumed)[name], w), name


def test_interrupt_inside_the_optimizer_update_saves_nothing(tmp_path, monkeypatch, caplog):
    from fastembed.training import loop

    real = loop.make_optimizer

    def interrupting_optimizer(*args, **kwargs):
        opt = real(*args, **kwargs)
        step, calls = opt.step, []

        def half_step(*a, **k):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return step(*a, **k)
        opt.step = half_step
        return opt
    monkeypatch.setattr(loop, "make_optimizer", interrupting_optimizer)
    with pytest.raises(KeyboardInterrupt):
        train(make_model(), ToyData(), TrainConfig(steps=5, save_every=100, out_dir=str(tmp_path)))
    assert latest_checkpoint(tmp_path) is None
    assert "inside the optimizer update of step 3" in caplog.text


def test_interrupt_does_not_save_when_turned_off_or_nothing_is_new(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(make_model(), StopAt(ToyData(), 3), TrainConfig(steps=5, save_every=100, out_dir=str(tmp_path / "a"),
                                                              save_on_interrupt=False))
    assert latest_checkpoint(tmp_path / "a") is None
    with pytest.raises(KeyboardInterrupt):                 # step 2 is saved already: nothing new to save
        train(make_model(), StopAt(ToyData(), 2), TrainConfig(steps=5, save_every=2, out_dir=str(tmp_path / "b")))
    assert [p.name for p in list_checkpoints(tmp_path / "b")] == ["step_00000002"]


def test_a_bidirectional_lm_reports_each_directions_perplexity_and_their_mean():
    """ELMo's objectives are "lm_fwd" and "lm_bwd": no "lm", so before this the rows had no
    perplexity at all."""
    from fastembed.models import ELMo, ELMoConfig
    from fastembed.training.evaluate import Totals

    torch.manual_seed(0)
    model = ELMo(ELMoConfig.preset("tiny", vocab_size=50)).eval()
    totals = Totals()
    with torch.no_grad():
        for _ in range(2):
            ids = torch.randint(0, 50, (3, 12))
            totals.add(model(ids, labels=ids))
    row, _ = totals.reduce(torch.device("cpu"))
    fwd, bwd = math.exp(row["lm_fwd_loss"]), math.exp(row["lm_bwd_loss"])
    assert row["lm_fwd_perplexity"] == pytest.approx(fwd) and row["lm_bwd_perplexity"] == pytest.approx(bwd)
    assert row["perplexity"] == pytest.approx((fwd + bwd) / 2)
    assert 10 < row["perplexity"] < 500                       # a random model over 50 tokens: about 50
