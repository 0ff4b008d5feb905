"""Two gloo ranks with half the batch each take the same steps as one process with all of it.

The toy's labelled-token counts differ between the two halves, so this checks the count
normalisation (Σ loss_sums / global count × world_size), not just that DDP averages gradients.
The fast test forks two ranks from this process (no second torch import) with torchrun's
environment variables; the slow one launches the worker through torchrun itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from fastembed.training import TrainConfig, load_checkpoint, train
from fastembed.training.metrics import read_metrics

from .ddp_worker import BATCH, CONFIG, run_rank
from .toy import ToyData, make_model, weights

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _forked_rank(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    run_rank(out_dir)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_process(out_dir: Path) -> tuple[torch.nn.Module, list[dict]]:
    """The reference: one process, the whole global batch in one go."""
    data = ToyData(batch_size=BATCH)
    halves = [[int((data.get_batch(s, rank=r, world_size=2)["labels"] != -100).sum()) for r in (0, 1)]
              for s in range(CONFIG["steps"])]
    assert any(a != b for a, b in halves), halves              # ranks really hold different counts
    single = make_model(seed=0, dropout=0.0)
    rows = train(single, data, TrainConfig(**CONFIG, grad_accum=1, out_dir=str(out_dir)),
                 eval_data=ToyData(seed=1, batch_size=BATCH))
    return single, rows


def check_same(ddp_dir: Path, single: torch.nn.Module, rows: list[dict]) -> None:
    ddp = make_model(seed=3, dropout=0.0)
    state = load_checkpoint(ddp_dir, ddp)
    assert state["step"] == CONFIG["steps"] and state["world_size"] == 2
    assert len(state["rng"]) == 2 and state["rng"][0] != state["rng"][1]   # each rank's own stream
    for k, w in weights(single).items():
        torch.testing.assert_close(weights(ddp)[k], w, atol=1e-5, rtol=0)

    ddp_rows = read_metrics(ddp_dir / "metrics.jsonl")                     # written by rank 0 only
    assert [(r["step"], r["split"]) for r in ddp_rows] == [(r["step"], r["split"]) for r in rows]
    for a, b in zip(ddp_rows, rows):
        for key in ("loss", "mlm_loss", "nsp_loss", "nsp_accuracy"):
            assert a[key] == pytest.approx(b[key], abs=1e-5), (a["step"], key)


def test_two_forked_ranks_equal_one_process(tmp_path):
    single, rows = one_process(tmp_path / "one")  # first, so the forked ranks inherit torch warmed up
    mp.start_processes(_forked_rank, args=(_free_port(), str(tmp_path / "ddp")), nprocs=2,
                       start_method="fork", join=True)
    check_same(tmp_path / "ddp", single, rows)


@pytest.mark.slow
def test_two_ranks_under_torchrun_equal_one_process(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(HERE / "ddp_worker.py"), str(tmp_path / "ddp")]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    check_same(tmp_path / "ddp", *one_process(tmp_path / "one"))


def test_one_process_without_torchrun(monkeypatch):
    from fastembed.training import init_distributed
    from fastembed.training.distributed import is_main, wrap

    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert init_distributed("cpu") == (0, 1, torch.device("cpu"))
    model = make_model()
    assert wrap(model) is model and is_main()
    monkeypatch.setenv("WORLD_SIZE", "2")  # launched by torchrun but init_distributed() never called
    with pytest.raises(RuntimeError, match="init_distributed"):
        train(model, ToyData(), TrainConfig(steps=1))
