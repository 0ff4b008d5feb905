"""Faults from outside, on real processes: ``kill -9`` inside checkpoint writes, then resume to
the end, must give the uninterrupted run's weights bit for bit; Ctrl-C (SIGINT) must exit 130
with one line, no traceback and no temporary files, after saving the last finished step.

The killed runs are ``fastembed pretrain`` in a subprocess whose checkpoint writes are slowed a
little and announced on stdout (each piece of a save: the weights, the optimizer state,
state.json, the fsyncs, the renames, the update of ``latest``, the pruning), so the parent can
kill it *inside* a save, at a piece chosen at random (seeded), after a random delay.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fastembed.cli import main
from fastembed.models import GPT, GPTConfig
from fastembed.models.hf import read_weights
from fastembed.training import latest_checkpoint, load_checkpoint
from fastembed.training.checkpoint import list_checkpoints

from tests._interrupt import check_interrupted, interrupt

from .test_pretrain import QUICK, make_files

ROOT = Path(__file__).resolve().parents[2]

# Runs fastembed.cli.main(argv) with every piece of a checkpoint write announced ("SAVE <piece>")
# and slowed by 10 ms before and after, so that a kill lands inside the save, before or after
# the piece's own work.
DRIVER = r"""
import functools, json, os, shutil, sys, time
import torch
from fastembed.training import checkpoint

def slowed(name, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        sys.stdout.write(f"SAVE {name}\n")
        sys.stdout.flush()
        time.sleep(0.01)
        try:
            return fn(*args, **kwargs)
        finally:
            time.sleep(0.01)
    return wrapper

checkpoint.save_model = slowed("weights", checkpoint.save_model)
checkpoint._fsync = slowed("fsync", checkpoint._fsync)
torch.save = slowed("optimizer", torch.save)
json.dump = slowed("state", json.dump)
os.replace = slowed("rename", os.replace)
shutil.rmtree = slowed("rmtree", shutil.rmtree)
from fastembed.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return make_files(tmp_path_factory.mktemp("faults"))


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", FASTEMBED_PROGRESS_EVERY="0.2",
                PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))


def _pretrain_args(files, out: Path, steps: int, *extra: str) -> list[str]:
    return ["pretrain", "gpt", "--input", str(files["corpus"]), "--tokenizer", str(files["bpe"]),
            "--steps", str(steps), "--out", str(out), *QUICK, "--dev-fraction", "0", "--save-every", "1", *extra]


def _kill_inside_a_save(argv: list[str], target: int, delay: float) -> list[str]:
    """Run the driver; SIGKILL it ``delay`` s after the ``target``-th piece of a save begins.
    Returns the pieces announced (the last one is where it died, unless it finished first)."""
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, *argv], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    pieces = []
    try:
        for line in proc.stdout:
            if line.startswith("SAVE "):
                pieces.append(line.split()[1])
                if len(pieces) == target:
                    time.sleep(delay)
                    proc.kill()
                    break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return pieces


def test_kill_9_inside_checkpoint_writes_then_resume_is_bitwise_the_uninterrupted_run(files, tmp_path):
    steps = 5
    assert main(_pretrain_args(files, tmp_path / "full", steps)) == 0
    want = read_weights(tmp_path / "full" / "model")

    rng = random.Random(int(os.environ.get("FASTEMBED_FAULT_SEED", "21")))
    for trial in range(int(os.environ.get("FASTEMBED_FAULT_TRIALS", "3"))):    # more: a longer soak, off CI
        out = tmp_path / f"killed{trial}"
        # a save announces about 10 pieces; 5 saves: a target in 3..45 dies inside one of them
        target, delay = rng.randint(3, 45), rng.uniform(0.0, 0.02)
        pieces = _kill_inside_a_save(_pretrain_args(files, out, steps), target, delay)
        assert len(pieces) == target, f"trial {trial}: the run ended after {len(pieces)} pieces, before the kill"
        print(f"trial {trial}: killed {delay * 1e3:.0f} ms into piece {target} ({pieces[-1]})")
        ckpt = latest_checkpoint(out)              # whatever the kill interrupted, latest is whole
        if ckpt is not None:
            assert ckpt in list_checkpoints(out)   # complete: state.json and model.safetensors are there
        resume = ["--resume"] if ckpt is not None else []
        assert main(_pretrain_args(files, out, steps, *resume)) == 0, f"trial {trial}: died in {pieces[-1]}"
        got = read_weights(out / "model")
        assert got.keys() == want.keys()
        for name in want:
            assert torch.equal(got[name], want[name]), f"trial {trial} (killed in {pieces[-1]}): {name} differs"
        assert not [p for p in (out / "checkpoints").iterdir() if ".tmp" in p.name or ".old-" in p.name]


def test_sigint_during_pretraining_saves_the_last_step_and_exits_130(files, tmp_path):
    out = tmp_path / "run"
    argv = _pretrain_args(files, out, 100_000)
    argv[argv.index("--save-every") + 1] = "0"                           # no periodic checkpoint
    status, err = interrupt(argv, r"/100,000 step \[", _env())
    check_interrupted(status, err, "pretrain", out)
    ckpt = latest_checkpoint(out)
    assert ckpt is not None and f"interrupted: saved checkpoint {ckpt}" in err
    assert 0 < int(ckpt.name.split("_")[1]) < 100_000
    cfg = GPTConfig.from_dict(json.loads((out / "run.json").read_text())["model_config"])
    assert load_checkpoint(out, GPT(cfg))["path"] == str(ckpt)             # whole and loadable
