"""Checkpoints: round trip with tied weights, clear errors, atomic saves, keep_last."""

from __future__ import annotations

import errno
import json
import os
import shutil

import pytest
import torch
from safetensors import SafetensorError

from fastembed.training import TrainConfig, load_checkpoint, make_optimizer, save_checkpoint, train
from fastembed.training.checkpoint import latest_checkpoint, list_checkpoints

from .toy import ToyData, make_model, weights


def trained(tmp_path, steps=2, **config):
    model = make_model()
    train(model, ToyData(), TrainConfig(steps=steps, lr=1e-2, out_dir=str(tmp_path), **config))
    return model


def test_round_trip_with_tied_weights(tmp_path):
    model = trained(tmp_path)
    ckpt = latest_checkpoint(tmp_path)
    assert ckpt.name == "step_00000002"
    assert sorted(os.listdir(ckpt)) == ["model.safetensors", "optimizer.pt", "state.json"]
    state = json.loads((ckpt / "state.json").read_text())
    assert state["step"] == 2 and state["model_config"]["hidden"] == 16 and state["data_seed"] == 0
    assert state["train_config"]["steps"] == 2 and len(state["rng"]) == 1

    other = make_model(seed=5)
    opt = make_optimizer(other, lr=1e-3)
    got = load_checkpoint(tmp_path, other, opt)
    assert got["step"] == 2 and got["path"] == str(ckpt)
    assert other.lm_head.weight is other.embed.weight          # still tied after loading
    for k, w in weights(model).items():
        assert torch.equal(weights(other)[k], w), k
    assert len(opt.state) == len(list(other.parameters()))      # AdamW moments came back


def test_config_mismatch_is_refused_with_the_fields(tmp_path):
    trained(tmp_path)
    with pytest.raises(ValueError, match=r"different config:\n  hidden: checkpoint 16, model 8"):
        load_checkpoint(tmp_path, make_model(hidden=8))
    with pytest.raises(ValueError, match="dropout: checkpoint 0.1, model 0.0"):
        train(make_model(dropout=0.0), ToyData(), TrainConfig(steps=4, out_dir=str(tmp_path)), resume=True)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nope", make_model())
    with pytest.raises(FileNotFoundError, match="no checkpoint in"):
        load_checkpoint(tmp_path, make_model())
    trained(tmp_path)
    (tmp_path / "checkpoints" / "step_00000002" / "optimizer.pt").unlink()
    with pytest.raises(FileNotFoundError, match="optimizer.pt is missing"):
        load_checkpoint(tmp_path, make_model(), make_optimizer(make_model(), lr=1e-3))


@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.pt", "state.json"])
def test_corrupt_file_is_named(tmp_path, name):
    trained(tmp_path)
    path = latest_checkpoint(tmp_path) / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])   # truncated, as by a full disk
    model = make_model()
    with pytest.raises(ValueError, match=rf"{name} is corrupt"):
        load_checkpoint(tmp_path, model, make_optimizer(model, lr=1e-3))


def test_crash_during_save_leaves_previous_checkpoint_as_latest(tmp_path, monkeypatch):
    real_save, calls = torch.save, []

    def save_then_die(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:               # the second checkpoint: write half a file, then "Ctrl-C"
            f.write(b"\x00" * 100)
            raise KeyboardInterrupt
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):   # (the loop's own save on Ctrl-C would redo step 4: off here)
        trained(tmp_path, steps=4, save_every=2, save_on_interrupt=False)
    root = tmp_path / "checkpoints"
    assert sorted(os.listdir(root)) == ["latest", "step_00000002"]      # no half-written directory
    assert (root / "latest").read_text().strip() == "step_00000002"
    assert load_checkpoint(tmp_path, make_model())["step"] == 2

    # a save killed too hard to clean up (SIGKILL) leaves a tmp dir: never read, removed next time
    monkeypatch.setattr(torch, "save", real_save)
    (root / "step_00000004.tmp-99999").mkdir()
    (root / "step_00000004.tmp-99999" / "model.safetensors").write_bytes(b"junk")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000002"]
    assert load_checkpoint(tmp_path, make_model())["step"] == 2
    model = make_model()
    save_checkpoint(tmp_path, 3, model, make_optimizer(model, lr=1e-3), keep_last=None)
    assert sorted(os.listdir(root)) == ["latest", "step_00000002", "step_00000003"]


def test_keep_last_and_resave_same_step(tmp_path):
    model = trained(tmp_path, steps=5, save_every=1, keep_last=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000004", "step_00000005"]
    save_checkpoint(tmp_path, 5, model, extra_state={"note": "again"}, keep_last=2)
    state = json.loads((tmp_path / "checkpoints" / "step_00000005" / "state.json").read_text())
    assert state["note"] == "again" and len(list_checkpoints(tmp_path)) == 2


def test_resume_refuses_other_data_seed(tmp_path):
    trained(tmp_path)
    with pytest.raises(ValueError, match="data seed 0, this data has seed 1"):
        train(make_model(), ToyData(seed=1), TrainConfig(steps=4, out_dir=str(tmp_path)), resume=True)


# --------------------------------------------------------------------------- issue 21: sharp edges


def test_latest_outside_the_run_is_not_followed(tmp_path):
    """``latest`` must name a checkpoint inside checkpoints/; anything else warns and falls back."""
    trained(tmp_path, steps=2)
    root = tmp_path / "checkpoints"
    elsewhere = tmp_path / "elsewhere" / "step_00000009"           # a complete checkpoint outside the run
    elsewhere.parent.mkdir()
    shutil.copytree(root / "step_00000002", elsewhere)
    for pointer in ("../elsewhere/step_00000009", str(elsewhere), "step_00000002/../../elsewhere/step_00000009"):
        (root / "latest").write_text(pointer + "\n")
        with pytest.warns(UserWarning, match=r"checkpoints/latest holds .*not a checkpoint name"):
            assert latest_checkpoint(tmp_path) == root / "step_00000002"
        with pytest.warns(UserWarning):
            assert load_checkpoint(tmp_path, make_model())["path"] == str(root / "step_00000002")


@pytest.mark.parametrize("damage", ["missing", "incomplete"])
def test_latest_naming_a_missing_or_incomplete_step_falls_back(tmp_path, damage):
    trained(tmp_path, steps=4, save_every=1, keep_last=None)
    root = tmp_path / "checkpoints"
    if damage == "missing":
        (root / "latest").write_text("step_00000007\n")
    else:
        (root / "step_00000004" / "model.safetensors").unlink()
    with pytest.warns(UserWarning, match=r"falling back to step_0000000[34]"):
        got = latest_checkpoint(tmp_path)
    assert got == root / ("step_00000004" if damage == "missing" else "step_00000003")
    with pytest.warns(UserWarning):
        assert load_checkpoint(tmp_path, make_model())["path"] == str(got)


def _full_disk(*args, **kwargs):
    """What torch.save does on a full disk: the OSError, then a RuntimeError from its zip writer."""
    try:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")


@pytest.mark.parametrize("where", ["torch.save", "safetensors", "state.json"])
def test_full_disk_is_one_clear_error_and_leaves_nothing(tmp_path, monkeypatch, where):
    from fastembed.training import checkpoint

    model = trained(tmp_path, steps=2)
    root = tmp_path / "checkpoints"
    before = sorted(os.listdir(root))
    if where == "torch.save":
        monkeypatch.setattr(torch, "save", _full_disk)
    elif where == "safetensors":           # safetensors reports the OS error inside its own message
        def no_space(*args, **kwargs):
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        monkeypatch.setattr(checkpoint, "save_model", no_space)
    else:
        monkeypatch.setattr(checkpoint.json, "dump", lambda *a, **k: _full_disk())
    with pytest.raises(checkpoint.CheckpointWriteError) as info:
        save_checkpoint(tmp_path, 3, model, make_optimizer(model, lr=1e-3))
    assert str(info.value) == f"could not write checkpoint step_00000003 to {root}: No space left on device"
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert sorted(os.listdir(root)) == before                        # no tmp dir, latest unchanged
    assert (root / "latest").read_text().strip() == "step_00000002"


def test_interrupt_inside_the_weights_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    from fastembed.training import checkpoint

    model = trained(tmp_path, steps=2)
    real = checkpoint.save_model

    def half_then_interrupt(module, filename, *args, **kwargs):
        real(module, filename, *args, **kwargs)
        with open(filename, "r+b") as f:
            f.truncate(100)
        raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint, "save_model", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, 3, model, make_optimizer(model, lr=1e-3))
    root = tmp_path / "checkpoints"
    assert sorted(os.listdir(root)) == ["latest", "step_00000002"]
    assert (root / "latest").read_text().strip() == "step_00000002"


def test_interrupt_while_pruning_leaves_no_half_deleted_checkpoint(tmp_path, monkeypatch):
    """keep_last deletes old checkpoints: an interrupt inside that delete must not leave a
    step_ directory that looks complete but has lost files."""
    from fastembed.training import checkpoint

    model = trained(tmp_path, steps=2, save_every=1, keep_last=None)
    real_rmtree = shutil.rmtree

    def rmtree_one_file_then_interrupt(path, *args, **kwargs):
        path = os.fspath(path)
        if ".tmp-" in path or not os.path.isdir(path):            # the save's own scratch directory
            return real_rmtree(path, *args, **kwargs)
        files = sorted(os.listdir(path))
        if files:
            os.unlink(os.path.join(path, files[0]))
        raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint.shutil, "rmtree", rmtree_one_file_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, 3, model, make_optimizer(model, lr=1e-3), keep_last=1)
    monkeypatch.setattr(checkpoint.shutil, "rmtree", real_rmtree)
    for ckpt in list_checkpoints(tmp_path):              # whatever is listed is whole
        assert sorted(os.listdir(ckpt)) == ["model.safetensors", "optimizer.pt", "state.json"], ckpt
    assert latest_checkpoint(tmp_path).name == "step_00000003"
