"""Checkpoints that are either complete or invisible, and that resume a run exactly.

Layout under a run's ``out_dir``::

    checkpoints/
      step_00001000/
        model.safetensors   weights (a tied weight is stored once, under its first name)
        optimizer.pt        torch.save(optimizer.state_dict()): AdamW moments and step counts
        state.json          step, model config, train config, RNG states of every rank, data seed,
                            elapsed time, last metrics
      step_00002000/
      latest                the name of the newest complete checkpoint ("step_00002000")

Writing is atomic: everything goes into ``step_00002000.tmp-<pid>/``, each file is fsynced,
the directory is renamed to ``step_00002000`` (a rename is all-or-nothing), and only then is
``latest`` replaced (also by a rename). A run killed at any point leaves ``latest`` naming a
complete checkpoint; a leftover ``*.tmp-*`` directory (or ``.latest.*.tmp`` file) is never read
and is removed by the next save. Older checkpoints beyond ``keep_last`` are deleted after the new one is in place (each is
first renamed to ``*.old-<pid>``, so an interrupted delete never leaves a ``step_*`` directory that
has lost files). A write that fails (a full disk...) raises :class:`CheckpointWriteError`, one
OSError that names the checkpoint, the directory and the reason, and leaves nothing behind.

Reading trusts ``latest`` only when it holds a plain checkpoint name (``step_NNNNNNNN``) of a
complete checkpoint (``state.json`` and ``model.safetensors`` present) inside ``checkpoints/``;
otherwise (a path, ``..``, a missing or incomplete step) it warns and falls back to the newest
complete checkpoint.

Loading checks before it changes anything: a config that differs from the model's is refused
with the differing fields listed, and a file that cannot be parsed is reported by name.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import shutil
import warnings
from pathlib import Path
from typing import Any, Optional

from .._optional import require_torch
from ..io import atomic_write_text
from .distributed import unwrap
from .rng import get_rng_state

torch = require_torch("fastembed.training")
from safetensors import SafetensorError  # noqa: E402  (safetensors comes with the torch extra)
from safetensors.torch import load_model, save_model  # noqa: E402

CHECKPOINTS, LATEST = "checkpoints", "latest"
MODEL_FILE, OPTIMIZER_FILE, STATE_FILE = "model.safetensors", "optimizer.pt", "state.json"
_COMPLETE = re.compile(r"^step_(\d{8,})$")        # a finished checkpoint; tmp dirs never match
_LEFTOVER = re.compile(r"^step_\d{8,}\.(tmp|old)-\d+$")
_LATEST_LEFTOVER = re.compile(r"^\.latest\..+\.tmp$")   # fastembed.io's temp file, of a write killed by SIGKILL
_OS_ERROR = re.compile(r"\(os error (\d+)\)")          # how safetensors (Rust) reports an OS error


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (a full disk, a lost mount...). Nothing of it is left
    behind and ``latest`` still names the previous checkpoint; ``errno`` is the OS's when known."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class CheckpointWarning(UserWarning):
    """``checkpoints/latest`` could not be followed; the newest complete checkpoint is used instead."""


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}"


def list_checkpoints(out_dir: str | os.PathLike) -> list[Path]:
    """The complete checkpoints of a run, oldest first."""
    root = Path(out_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _COMPLETE.match(p.name)) and _is_complete(p)]
    return [p for _, p in sorted(found)]


def _is_complete(ckpt: Path) -> bool:
    return ckpt.is_dir() and (ckpt / STATE_FILE).is_file() and (ckpt / MODEL_FILE).is_file()


def latest_checkpoint(out_dir: str | os.PathLike) -> Optional[Path]:
    """The checkpoint ``latest`` names, or the newest complete one if ``latest`` is missing (a
    run stopped between the rename and the update of ``latest``); None when there is none.

    ``latest`` is followed only when it holds a checkpoint name (``step_NNNNNNNN``, no path) of a
    complete checkpoint in ``checkpoints/``; otherwise a :class:`CheckpointWarning` says why and
    the newest complete checkpoint is used."""
    root = Path(out_dir) / CHECKPOINTS
    pointer = root / LATEST
    if not pointer.exists():
        found = list_checkpoints(out_dir)
        return found[-1] if found else None
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        problem = f"{pointer} cannot be read ({e})"
    else:
        if not _COMPLETE.match(name):
            problem = (f"{CHECKPOINTS}/{LATEST} holds {name[:200]!r}, not a checkpoint name (step_NNNNNNNN) "
                       f"inside {root}")
        elif not (root / name).is_dir():
            problem = f"{pointer} names {name}, which does not exist"
        elif not _is_complete(root / name):
            problem = f"{pointer} names {name}, which is incomplete (it lacks {STATE_FILE} or {MODEL_FILE})"
        else:
            return root / name
    found = list_checkpoints(out_dir)
    fallback = f"falling back to {found[-1].name}, the newest complete checkpoint" if found else \
        "and there is no complete checkpoint to fall back to"
    warnings.warn(f"{problem}; {fallback}", CheckpointWarning, stacklevel=2)
    return found[-1] if found else None


def config_dict(model: "torch.nn.Module") -> Optional[dict]:
    """``model.config`` as JSON values (tuples become lists), or None if the model has none."""
    cfg = getattr(unwrap(model), "config", None)
    if cfg is None:
        return None
    d = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)
    return json.loads(json.dumps(d, default=str))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # works for files and (on POSIX) directories
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def save_checkpoint(out_dir: str | os.PathLike, step: int, model: "torch.nn.Module",
                    optimizer: Optional["torch.optim.Optimizer"] = None, extra_state: Optional[dict] = None,
                    *, keep_last: Optional[int] = None) -> Path:
    """Write ``out_dir/checkpoints/step_{step:08d}/`` atomically, point ``latest`` at it, and keep
    only the newest ``keep_last`` checkpoints (None: keep all). Returns the checkpoint directory.

    ``extra_state`` (JSON values) goes into ``state.json`` beside ``step`` and ``model_config``;
    if it has no ``"rng"`` entry, this process's generator states are recorded as ``[state]``.
    """
    model = unwrap(model)
    root = Path(out_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    tmp = root / f"{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        state = {"step": int(step), "model_config": config_dict(model), **(extra_state or {})}
        state.setdefault("rng", [get_rng_state()])
        save_model(model, str(tmp / MODEL_FILE), metadata={"step": str(step)})
        _fsync(tmp / MODEL_FILE)
        if optimizer is not None:
            with open(tmp / OPTIMIZER_FILE, "wb") as f:
                torch.save(optimizer.state_dict(), f)
                f.flush()
                os.fsync(f.fileno())
        with open(tmp / STATE_FILE, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=1, default=str)
            f.flush()
            os.fsync(f.fileno())
        _fsync(tmp)
        if final.exists():  # saving a step again (after resuming from an older one): swap it out
            old = root / f"{final.name}.old-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
        _fsync(root)
    except BaseException as e:  # Ctrl-C or a full disk: leave nothing half-written behind
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, (OSError, RuntimeError, SafetensorError)):
            raise _write_error(final.name, root, e) from e
        raise
    try:
        atomic_write_text(root / LATEST, final.name + "\n")
    except OSError as e:  # the checkpoint is whole, but latest still names the previous one
        raise _write_error(f"{LATEST} (pointing at {final.name})", root, e) from e
    _prune(out_dir, keep_last, keep=final)
    return final


def _write_error(what: str, root: Path, e: BaseException) -> CheckpointWriteError:
    """One clear error for a failed write: the first OS error in the exception's chain (torch.save
    raises a RuntimeError from its zip writer *while handling* the OSError of a full disk), or the
    error code inside a safetensors message, or else the message itself."""
    seen: set[int] = set()
    err: BaseException | None = e
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno is not None:
            reason = err.strerror or os.strerror(err.errno)
            return CheckpointWriteError(f"could not write checkpoint {what} to {root}: {reason}", err.errno)
        err = err.__cause__ or err.__context__
    m = _OS_ERROR.search(str(e))
    if m:
        code = int(m.group(1))
        return CheckpointWriteError(f"could not write checkpoint {what} to {root}: {os.strerror(code)}", code)
    return CheckpointWriteError(f"could not write checkpoint {what} to {root}: {e}")


def _prune(out_dir: str | os.PathLike, keep_last: Optional[int], keep: Path) -> None:
    """Delete complete checkpoints beyond the newest ``keep_last`` and leftovers of killed saves."""
    root = Path(out_dir) / CHECKPOINTS
    for p in root.iterdir():
        if _LATEST_LEFTOVER.match(p.name) and p.is_file():
            try:
                p.unlink()
            except OSError:
                pass
    stale = [p for p in root.iterdir() if p.is_dir() and _LEFTOVER.match(p.name)]
    if keep_last is not None and keep_last > 0:
        stale += list_checkpoints(out_dir)[:-keep_last]
    for p in stale:
        if p == keep:
            continue
        if _COMPLETE.match(p.name):  # renamed first: an interrupted delete leaves a leftover, not a broken step
            doomed = p.with_name(f"{p.name}.old-{os.getpid()}")
            try:
                os.replace(p, doomed)
            except OSError:
                continue
            p = doomed
        shutil.rmtree(p, ignore_errors=True)


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint directory from a run's ``out_dir``, its ``checkpoints/`` or the directory itself."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no checkpoint at {p}: the path does not exist")
    if (p / STATE_FILE).exists() or (p / MODEL_FILE).exists():
        return p
    run = p.parent if p.name == CHECKPOINTS else p
    found = latest_checkpoint(run)
    if found is None:
        raise FileNotFoundError(f"no checkpoint in {p}: expected {run / CHECKPOINTS / LATEST} or a "
                                f"checkpoint directory holding {STATE_FILE} and {MODEL_FILE}")
    return found


def _need(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path.parent} is incomplete: {path.name} is missing")
    return path


def _config_diff(saved: dict, current: dict) -> list[str]:
    missing = "<absent>"
    return [f"{k}: checkpoint {saved.get(k, missing)!r}, model {current.get(k, missing)!r}"
            for k in sorted(set(saved) | set(current)) if saved.get(k, missing) != current.get(k, missing)]


def load_checkpoint(path: str | os.PathLike, model: "torch.nn.Module",
                    optimizer: Optional["torch.optim.Optimizer"] = None) -> dict[str, Any]:
    """Load weights (and optimizer state) from a checkpoint; return its ``state.json`` dict with
    ``"path"`` added. ``path``: a run's ``out_dir`` (its latest checkpoint) or a checkpoint dir.

    Raises FileNotFoundError when there is no checkpoint or a file is missing, and ValueError
    (naming the file) when a file is corrupt, when ``model.config`` differs from the saved
    config, or when the weights or optimizer state do not fit. Generator states are not
    restored here: that is :func:`fastembed.training.rng.set_rng_state`'s job.
    """
    ckpt = resolve_checkpoint(path)
    state_file = _need(ckpt / STATE_FILE)
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{state_file} is corrupt: {e}") from e
    saved, current = state.get("model_config"), config_dict(model)
    if saved is not None and current is not None and saved != current:
        diff = "\n  ".join(_config_diff(saved, current))
        raise ValueError(f"checkpoint {ckpt} was saved from a model with a different config:\n  {diff}")

    model_file, raw = _need(ckpt / MODEL_FILE), unwrap(model)
    device = next(iter(raw.parameters()), torch.empty(0)).device
    try:
        load_model(raw, str(model_file), strict=True, device=str(device))
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{model_file} is corrupt or not a safetensors file: {e}") from e
    except RuntimeError as e:
        raise ValueError(f"{model_file} does not fit this model: {e}") from e

    if optimizer is not None:
        optim_file = _need(ckpt / OPTIMIZER_FILE)
        try:
            optim_state = torch.load(optim_file, map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as e:
            raise ValueError(f"{optim_file} is corrupt: {e}") from e
        try:
            optimizer.load_state_dict(optim_state)  # moves the moments to the parameters' device
        except (ValueError, KeyError) as e:
            raise ValueError(f"{optim_file} does not fit this optimizer: {e}") from e
    state["path"] = str(ckpt)
    return state
