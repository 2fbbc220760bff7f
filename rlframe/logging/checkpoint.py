"""Checkpoints: atomic writes, listing and pruning, RNG states, and the spec check before loading.

A checkpoint is a ``torch.save``'d dict holding everything a run needs to resume (agent and
optimizer state, iteration / env-step / update counters, Python, numpy and torch RNG states, the
env specs and the run's params; with a serial or cpu sampler also its state for an exact resume: env states and
the collector's carried state, as pickled bytes that ``torch.load(weights_only=True)`` reads without unpickling).
Files are written to a temporary name and renamed with
``os.replace``, so a run killed mid-write never leaves a truncated ``itr_*.pt`` behind.

The specs stored in a checkpoint are compared with the env the run is resumed with *before*
``load_state_dict``: instead of torch's ``size mismatch for mlp.0.weight`` (rlpyt's 461-vs-365
observation story) the user gets a :class:`~rlframe.errors.ShapeMismatchError` naming the
checkpoint file, the field and both shapes.
"""
from __future__ import annotations

import glob
import os
import random
import re
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from rlframe.core.specs import spec_from_space, spec_to_json
from rlframe.errors import CheckpointError, ShapeMismatchError

CHECKPOINT_FORMAT = "rlframe-checkpoint-v1"
_NAME_RE = re.compile(r"^itr_(\d+)\.pt$")


# --- specs ---------------------------------------------------------------------------------
def env_specs_json(env_spaces: Any) -> Dict[str, Any]:
    """JSON form of an :class:`~rlframe.envs.base.EnvSpaces` (observation and action specs)."""
    return {
        "observation": spec_to_json(spec_from_space(env_spaces.observation, "Observation")),
        "action": spec_to_json(spec_from_space(env_spaces.action, "Action")),
    }


def _is_leaf(s: Any) -> bool:
    return isinstance(s, dict) and "shape" in s and "dtype" in s


def _describe_leaf(s: Dict[str, Any]) -> str:
    if s.get("kind") == "discrete":
        return f"Discrete({s.get('n')})"
    return f"{s.get('kind', 'array')} {s.get('dtype')}"


def check_specs(stored: Dict[str, Any], current: Dict[str, Any], checkpoint_path: str, field: str = "") -> None:
    """Raise :class:`ShapeMismatchError` unless the specs in a checkpoint equal the current env's.

    ``stored`` and ``current`` are :func:`env_specs_json` dicts. The error names the checkpoint file,
    the field (e.g. ``observation`` or ``observation.image``) and both shapes.
    """
    component = f"checkpoint {checkpoint_path}"
    hint = (
        "the checkpoint was trained on an env with other spaces; resume or load it with the same env "
        "(and env_kwargs) it was trained on, or start a new run."
    )
    if _is_leaf(stored) or _is_leaf(current):
        if not (_is_leaf(stored) and _is_leaf(current)):
            raise ShapeMismatchError(component, field, f"structure {_keys(stored)}", f"structure {_keys(current)}",
                                     hint=hint)
        s_shape, c_shape = tuple(stored["shape"]), tuple(current["shape"])
        if s_shape != c_shape:
            raise ShapeMismatchError(component, field, s_shape, c_shape, hint=hint,
                                     detail="checkpoint spec vs current env spec")
        s_desc, c_desc = _describe_leaf(stored), _describe_leaf(current)
        if s_desc != c_desc:
            raise ShapeMismatchError(component, field, s_desc, c_desc, hint=hint,
                                     detail=f"both of shape {s_shape}")
        return
    if sorted(stored) != sorted(current):
        raise ShapeMismatchError(component, field or "specs", f"fields {sorted(stored)}", f"fields {sorted(current)}",
                                 hint=hint)
    for k in stored:
        check_specs(stored[k], current[k], checkpoint_path, f"{field}.{k}" if field else k)


def _keys(s: Any) -> str:
    return "leaf" if _is_leaf(s) else str(sorted(s) if isinstance(s, dict) else type(s).__name__)


# --- RNG states ------------------------------------------------------------------------------
def get_rng_states() -> Dict[str, Any]:
    """Python, numpy (global) and torch (CPU and CUDA) generator states, in a form ``torch.load``
    accepts with ``weights_only=True``."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np.asarray(np_state[1]).astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_states(state: Dict[str, Any]) -> None:
    """Restore what :func:`get_rng_states` captured (missing parts are left alone)."""
    if "python" in state:
        py = state["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))
    if "numpy" in state:
        name, key, pos, has_gauss, cached = state["numpy"]
        key = np.asarray(key.numpy() if hasattr(key, "numpy") else key, dtype=np.uint32)
        np.random.set_state((name, key, int(pos), int(has_gauss), float(cached)))
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except (RuntimeError, IndexError):  # fewer GPUs now than when saved: keep the fresh states
            pass


# --- files -------------------------------------------------------------------------------------
def checkpoint_name(itr: int) -> str:
    return f"itr_{int(itr):07d}.pt"


def list_checkpoints(checkpoint_dir: str) -> List[str]:
    """Complete checkpoint files in ``checkpoint_dir``, oldest (lowest iteration) first."""
    if not os.path.isdir(checkpoint_dir):
        return []
    found = []
    for name in os.listdir(checkpoint_dir):
        m = _NAME_RE.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(checkpoint_dir, name)))
    return [p for _, p in sorted(found)]


def latest_checkpoint(checkpoint_dir: str) -> Optional[str]:
    files = list_checkpoints(checkpoint_dir)
    return files[-1] if files else None


def save_checkpoint(state: Dict[str, Any], checkpoint_dir: str, itr: int, keep_last: Optional[int] = None) -> str:
    """Write ``state`` atomically to ``checkpoint_dir/itr_XXXXXXX.pt``; keep the newest ``keep_last`` files
    (all when None). Returns the path."""
    os.makedirs(checkpoint_dir, exist_ok=True)
    path = os.path.join(checkpoint_dir, checkpoint_name(itr))
    check_weights_finite(state.get("agent_state_dict"), path)
    tmp = os.path.join(checkpoint_dir, f".{checkpoint_name(itr)}.tmp{os.getpid()}")
    payload = dict(state, format=CHECKPOINT_FORMAT)
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        _silent_remove(tmp)
        raise CheckpointError(f"could not write checkpoint {path}: {e}. Check free disk space and permissions.") from e
    except BaseException:
        _silent_remove(tmp)
        raise
    prune_checkpoints(checkpoint_dir, keep_last)
    return path


def prune_checkpoints(checkpoint_dir: str, keep_last: Optional[int]) -> None:
    """Delete all but the newest ``keep_last`` checkpoint files (none when ``keep_last`` is None or 0)."""
    if keep_last is not None and keep_last > 0:
        for old in list_checkpoints(checkpoint_dir)[:-int(keep_last)]:
            _silent_remove(old)


def check_model_matches(stored: Dict[str, Any], current: Dict[str, Any], checkpoint_path: str) -> None:
    """Raise :class:`~rlframe.errors.ConfigError` unless the weights stored in a checkpoint have the names and
    shapes of the model they are loaded into (instead of torch's ``size mismatch for ...``)."""
    from rlframe.errors import ConfigError

    hint = ("the model settings differ from the ones the checkpoint was trained with (a changed params.json "
            "'model' entry or script default): resume with the settings it was trained with (its params are "
            f"stored in it: `rlframe checkpoint {checkpoint_path} --json`), or start a new run.")
    missing, unexpected = sorted(set(current) - set(stored)), sorted(set(stored) - set(current))
    if missing or unexpected:
        raise ConfigError(f"checkpoint {checkpoint_path} does not fit the model: weights missing from it "
                          f"{missing[:5]}, weights the model lacks {unexpected[:5]}; {hint}")
    for name, t in current.items():
        s_shape = tuple(getattr(stored[name], "shape", ()))
        if isinstance(t, torch.Tensor) and s_shape != tuple(t.shape):
            raise ConfigError(f"checkpoint {checkpoint_path} does not fit the model: weight '{name}' has shape "
                              f"{s_shape} in the checkpoint but {tuple(t.shape)} in the model; {hint}")


def check_weights_finite(state_dict: Optional[Dict[str, Any]], path: str) -> None:
    """Refuse (:class:`CheckpointError`) to write weights holding NaN or inf: the previous checkpoints stay
    the newest, so ``--resume`` continues from finite weights."""
    for name, t in (state_dict or {}).items():
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(
                f"not writing checkpoint {path}: the agent's weight '{name}' holds NaN or inf values. The previous "
                "checkpoints are kept (resume continues from the newest of them). Find the source with --debug "
                "(the scripts) or debug=True (the sampler), or lower the learning rate.")


def remove_stale_temp_files(checkpoint_dir: str) -> None:
    """Delete temporary files a killed run left half-written."""
    for p in glob.glob(os.path.join(checkpoint_dir, ".itr_*.pt.tmp*")):
        _silent_remove(p)


def load_checkpoint(path: str, map_location: Any = "cpu") -> Dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; :class:`CheckpointError` if it is not one."""
    if os.path.isdir(path):
        found = latest_checkpoint(os.path.join(path, "checkpoints")) or latest_checkpoint(path)
        if found is None:
            raise CheckpointError(f"no checkpoint (itr_*.pt) in {path} or {os.path.join(path, 'checkpoints')}.")
        path = found
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as e:
        raise CheckpointError(f"checkpoint {path} does not exist.") from e
    except Exception as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        marker = [i for i, ln in enumerate(lines) if "WeightsUnpickler error" in ln]
        reason = (lines[marker[0] + 1] if marker and marker[0] + 1 < len(lines) else lines[0]) if lines else ""
        reason = reason.split(". ")[0].rstrip(".")  # torch's first sentence says what failed
        if "unsupported global" in str(e).lower():
            raise CheckpointError(f"checkpoint {path} cannot be read safely: it holds arbitrary Python objects; "
                                  "rlframe never unpickles those: re-save the weights with torch.save(state_dict).") from e
        raise CheckpointError(f"checkpoint {path} cannot be read: it is damaged (truncated or corrupt: {type(e).__name__}: "
                              f"{reason}); "
                              "delete it, or resume, which skips it for the newest intact checkpoint.") from e
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an rlframe checkpoint (format {CHECKPOINT_FORMAT!r} expected).")
    state["path"] = path
    return state


def load_newest_intact(checkpoint_dir: str, warn: Any = None) -> Dict[str, Any]:
    """The newest checkpoint in ``checkpoint_dir`` that loads, skipping damaged newer ones with a warning
    (``warn(message)``; default: print to stderr) naming the file and why; :class:`CheckpointError` listing
    the files when none is intact (or there are none)."""
    files = list_checkpoints(checkpoint_dir)
    if not files:
        raise CheckpointError(f"no checkpoint (itr_*.pt) in {checkpoint_dir}.")
    problems = []
    for path in reversed(files):
        try:
            state = load_checkpoint(path)
        except CheckpointError as e:
            problems.append(f"{os.path.basename(path)}: {e}")
            continue
        for p in problems:
            (warn or _warn_stderr)(f"warning: skipped checkpoint {p}")
        if problems:
            (warn or _warn_stderr)(f"warning: resuming from {path}, the newest intact checkpoint.")
        return state
    raise CheckpointError(f"no intact checkpoint in {checkpoint_dir}; every file failed to load:\n  "
                          + "\n  ".join(problems) + "\nStart a new run (the run's params.json holds its config).")


def _warn_stderr(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


def load_agent_checkpoint(agent: Any, path: str) -> Dict[str, Any]:
    """Load a checkpoint's weights into an initialized ``agent`` after checking its env specs.

    For evaluation scripts and fine-tuning; runners resume through :class:`~rlframe.logging.RunLogger`.
    """
    state = load_checkpoint(path)
    if agent.env_spaces is None:
        raise CheckpointError("initialize the agent (sampler.initialize(agent, ...)) before loading a checkpoint.")
    if state.get("specs") is not None:
        check_specs(state["specs"], env_specs_json(agent.env_spaces), state["path"])
    agent.load_state_dict(state["agent_state_dict"])
    return state


def _silent_remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
