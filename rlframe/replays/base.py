"""The replay ring buffer every replay builds on, with n-step returns computed in the replay.

rlpyt's replay design (Stooke & Abbeel, 2019, rlpyt/replays/): samples arrive as ``[T, B]`` batches
(``append_samples``) and are written into a ring of ``[T_ring, B]`` rows, ``T_ring = ceil(size / B)``,
so every env keeps its own time line and n-step windows are plain index arithmetic along it.
Training batches come from ``sample_batch(batch_B)``; prioritized replays also take
``update_batch_priorities(priorities)``.

What one stored cell ``(t, b)`` holds (:data:`ReplayFields`): the observation the agent saw, the action
it took, ``prev_action``/``prev_reward`` (the agent's other inputs), the reward and the
``terminated``/``truncated``/``done`` flags of that step. The next observation of a cell is the
observation of the next row (the collectors keep envs running across batches), except where the episode
ended: there a truncated step bootstraps from the true final observation, which the sampler delivers in
``samples.env.final_observation`` (the algorithm declares ``final_observation = True``) and the replay
keeps only for those cells (:class:`~rlframe.replays.sparse.SparseSlots`), not as a second copy of
every observation. Wait-reset blank slots (``done`` without ``terminated`` or ``truncated``) are never
sampled.

n-step returns (Sutton & Barto, 2018, section 7.1; as in rlpyt and Rainbow): for a sampled ``(t, b)``,

    return_ = sum_{k < K} gamma^k r_{t+k},  K = n, or the steps up to and including the first done,
    target  = return_ + bootstrap_discount * V(target_inputs),

with ``bootstrap_discount = gamma^K``, set to 0 when the episode terminated within the n steps, and
``target_inputs`` the agent inputs at step ``t+K`` (or the true final observation when the episode was
truncated at ``t+K-1``). The newest ``n_step_return`` rows cannot be sampled until the next batch brings
their bootstrap observations.

Writing a new replay (e.g. ``replays/sequence.py``): subclass :class:`BaseReplayBuffer` (or
:class:`~rlframe.replays.uniform.UniformReplayBuffer` /
:class:`~rlframe.replays.prioritized.PrioritizedReplayBuffer` to keep their sampling) and override

- :meth:`BaseReplayBuffer.extra_fields_example` / :meth:`BaseReplayBuffer.extra_fields_from_samples` to
  store more per-step fields (e.g. the recurrent state from ``samples.agent.agent_info``); they land in
  ``self.extra`` (a ``[T_ring, B]`` buffer, ``None`` when there are none);
- :attr:`BaseReplayBuffer.history` (rows of past context a sample needs, e.g. burn-in) and
  :attr:`BaseReplayBuffer.lookahead` (rows after ``t`` a sample reads, default ``n_step_return``), which
  set the sampleable range (:meth:`BaseReplayBuffer.sampleable_range`);
- :meth:`BaseReplayBuffer.sample_batch` to return your own batch, using :meth:`_sample_idxs` (uniform
  or prioritized choice of ``(t, b)``), :meth:`n_step_targets` (returns and bootstrap discounts along
  a window), :meth:`gather_observation` and :meth:`agent_inputs`.
Helpers that read windows take ring rows (``t % T_ring``) and env indices ``b`` as numpy arrays.

``shared=True`` puts every array of the replay in shared memory (``replays/shared.py``): a sampler process
appends while the optimizer samples (``AsyncRl``); allocate new arrays of a subclass with ``self._alloc``.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import torch

from rlframe.agents.base import AgentInputs
from rlframe.core.buffers import numpify
from rlframe.core.namedarraytuple import iter_leaves, map_leaves, namedarraytuple
from rlframe.errors import ConfigError, ShapeMismatchError
from rlframe.replays.shared import NO_LOCK, SharedArrays, locked
from rlframe.replays.sparse import SparseSlots, leaves_to_dict, load_leaves
from rlframe.samplers.base import valid_mask

ReplayFields = namedarraytuple(
    "ReplayFields", ["observation", "action", "prev_action", "reward", "prev_reward", "terminated", "truncated", "done"])
# A training batch (contract of docs/replays.md): leading dim batch_B, torch tensors.
ReplayBatch = namedarraytuple(
    "ReplayBatch",
    ["agent_inputs", "action", "return_", "bootstrap_discount", "target_inputs", "is_weights", "idxs"])


def torch_batch(x: Any) -> Any:
    """Zero-copy torch views of a gathered numpy batch (fancy indexing made fresh contiguous arrays)."""
    return map_leaves(lambda a: torch.from_numpy(np.ascontiguousarray(a)), x)


class BaseReplayBuffer(SharedArrays):
    """Ring buffer of ``[T_ring, B]`` steps allocated from the sampler's examples; n-step targets.

    Args:
        examples: the dict ``sampler.initialize`` returns (``observation``, ``action``, ``agent_info``, ...):
            the stored fields take their shapes and dtypes.
        size: capacity in env steps (rounded up to a multiple of ``B``).
        B: envs per batch (``batch_spec.B``).
        discount: gamma of the n-step returns.
        n_step_return: steps summed before bootstrapping (1: one-step TD targets).
        seed: seed of the replay's own random generator (sampling).
        shared: allocate every array in shared memory (``replays/shared.py``; ``AsyncRl`` asks for it).
        final_obs_capacity: true final observations the replay can hold at once (truncated steps in the ring);
            default: grows as needed, or ``max(64, size // 16)`` when ``shared`` (shared memory cannot grow).

    Subclasses choose the sampled cells (:meth:`_sample_idxs`); see the module docstring for the hooks.
    """

    history = 0  # rows before t that a sample reads (frame stacks, burn-in)
    _derived = ("flat",)  # views recomputed by _views() after unpickling

    def __init__(self, examples: Mapping[str, Any], size: int, B: int, discount: float = 0.99,
                 n_step_return: int = 1, seed: Optional[int] = None, shared: bool = False,
                 final_obs_capacity: Optional[int] = None):
        if int(n_step_return) < 1:
            raise ConfigError(f"n_step_return must be >= 1, got {n_step_return}.")
        if not 0.0 <= float(discount) <= 1.0:
            raise ConfigError(f"discount must lie in [0, 1], got {discount}.")
        self.B = int(B)
        self.T = max(1, math.ceil(int(size) / self.B))
        self.size = self.T * self.B
        self.discount = float(discount)
        self.n_step_return = int(n_step_return)
        if self.T <= self.n_step_return + self.history + 1:
            raise ConfigError(
                f"{self.name}: replay_size {size} gives {self.T} rows per env (size / batch_B={self.B}), too few "
                f"for n_step_return={self.n_step_return} and {self.history} rows of history; raise replay_size.")
        self.rng = np.random.default_rng(seed)
        self.shared = bool(shared)
        self.lock = NO_LOCK  # a ReplayLock when another process uses the replay too (set by the async sampler)
        self.examples = dict(examples)
        fields = self.fields_example(examples)
        self._field_shapes = {name: np.shape(a) for name, a in iter_leaves(fields)}
        self.buf = self.allocate(fields)
        self._alloc("valid", np.bool_(False), (self.T, self.B))  # False: blank slot, never written, or cut
        extra_ex = self.extra_fields_example(examples)
        self.extra = None if extra_ex is None else self._alloc("extra", extra_ex, (self.T, self.B))
        self._extra_example = extra_ex
        self.final_obs = self.sparse_slots(examples["observation"], final_obs_capacity)
        # counters: [next ring row to write, rows written since the start (absolute time of the next row),
        # 1 when the next append does not continue the stored time lines (after a load)]
        self._alloc("_ctr", np.int64(0), (3,))
        self._views()
        # Set by runners before load_state_dict when the sampler's envs were restored too (exact resume,
        # docs/scaling.md): the newest rows stay sampleable and the next append continues their time lines.
        self.continue_after_load = False
        self._gammas = (self.discount ** np.arange(self.n_step_return + 1, dtype=np.float64)).astype(np.float32)
        self._steps = np.arange(self.n_step_return)

    def _views(self) -> None:
        # [T_ring * B] views of the same memory: one flat index per cell is the cheapest gather
        self.flat = map_leaves(lambda a: a.reshape((self.T * self.B,) + a.shape[2:]), self.buf)

    def sparse_slots(self, example: Any, capacity: Optional[int] = None) -> SparseSlots:
        """A :class:`SparseSlots` store over the ring (fixed ``capacity`` when shared)."""
        if self.shared:
            return SparseSlots(example, self.T, self.B, initial_capacity=capacity or max(64, self.size // 16),
                               shared=True)
        return SparseSlots(example, self.T, self.B, initial_capacity=capacity or 16)

    @property
    def t(self) -> int:
        """Next ring row to write."""
        return int(self._ctr[0])

    @t.setter
    def t(self, value: int) -> None:
        self._ctr[0] = value

    @property
    def total(self) -> int:
        """Rows written since the start (absolute time of the next row)."""
        return int(self._ctr[1])

    @total.setter
    def total(self, value: int) -> None:
        self._ctr[1] = value

    @property
    def _cut(self) -> bool:
        return bool(self._ctr[2])

    @_cut.setter
    def _cut(self, value: bool) -> None:
        self._ctr[2] = int(value)

    def __getstate__(self) -> Dict[str, Any]:
        state = super().__getstate__()
        state["lock"] = NO_LOCK  # a multiprocessing lock travels only as a process argument; the receiver sets it
        return state

    # --- layout hooks ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def lookahead(self) -> int:
        """Rows after ``t`` a sample of ``t`` reads (its bootstrap observation)."""
        return self.n_step_return

    def fields_example(self, examples: Mapping[str, Any]) -> Any:
        """One step of :data:`ReplayFields` built from the sampler's examples."""
        f32, false = np.float32(0), np.bool_(False)
        action = np.asarray(examples["action"])
        return ReplayFields(observation=examples["observation"], action=action, prev_action=action, reward=f32,
                            prev_reward=f32, terminated=false, truncated=false, done=false)

    def allocate(self, fields_example: Any) -> Any:
        """The ``[T_ring, B]`` storage of :data:`ReplayFields` (frame replays store observations differently)."""
        return self._alloc("buf", fields_example, (self.T, self.B))

    def extra_fields_example(self, examples: Mapping[str, Any]) -> Optional[Any]:
        """One step of extra fields to store (None: none). Sequence replays return e.g. the RNN state."""
        return None

    def extra_fields_from_samples(self, samples: Any) -> Optional[Any]:
        """The ``[T, B]`` extra fields of one batch of samples (matching :meth:`extra_fields_example`)."""
        return None

    # --- writing -----------------------------------------------------------------------------------
    @locked("appending a batch")
    def append_samples(self, samples: Any) -> None:
        """Copy a ``[T, B]`` batch of the sampler's ``Samples`` (numpy or torch) into the ring."""
        env, agent = samples.env, samples.agent
        final = env.final_observation  # None when the sampler was not asked for it
        fields = numpify(ReplayFields(
            observation=env.observation, action=agent.action, prev_action=agent.prev_action, reward=env.reward,
            prev_reward=env.prev_reward, terminated=env.terminated, truncated=env.truncated, done=env.done))
        T = self._check_batch(fields)
        truncated = fields.truncated.astype(bool)
        if final is None and truncated.any():
            raise ConfigError(
                f"{self.name}: a batch holds truncated episodes but no samples.env.final_observation, so their "
                "targets cannot bootstrap from the true final observation. Initialise the sampler with "
                "final_observation=True (runners do this for algorithms that declare final_observation = True).")
        rows = (self.t + np.arange(T)) % self.T
        self.final_obs.release(rows)
        self.write_fields(rows, fields)
        extra = self.extra_fields_from_samples(samples)
        if self.extra is not None:
            self.extra[rows] = numpify(extra)
        self.valid[rows] = numpify(valid_mask(samples)).astype(bool)
        ti, bi = np.nonzero(truncated)
        if ti.size:
            self.final_obs.put(rows[ti], bi, map_leaves(lambda a: a[ti, bi], numpify(final)))
        total0 = self.total
        self.t = int((self.t + T) % self.T)
        self.total += T
        self._cut = False
        self.after_append(total0, self.total)

    def write_fields(self, rows: np.ndarray, fields: Any) -> None:
        """Store one batch at ring ``rows`` (frame replays store only the newest frame)."""
        self.buf[rows] = fields

    def after_append(self, total0: int, total1: int) -> None:
        """Called after every append with the absolute row counts before and after (priority upkeep)."""

    def _check_batch(self, fields: Any) -> int:
        """``T`` of a batch after checking every field's trailing shape and dtype against the replay's."""
        T, B = fields.reward.shape[:2]
        if B != self.B:
            raise ShapeMismatchError(self.name, "batch_B", self.B, int(B), detail="samples [T, B] vs replay",
                                     hint="build the replay with the sampler's batch_B (ReplayAlgorithm does).")
        if T > self.T:
            raise ConfigError(f"{self.name}: a batch of {T} time steps does not fit in {self.T} rows per env; "
                              "raise replay_size to at least batch_T * batch_B * 2.")
        for name, a in iter_leaves(fields):
            shape = self._field_shapes[name]
            if tuple(a.shape[2:]) != shape:
                raise ShapeMismatchError(
                    self.name, name, shape, tuple(a.shape[2:]), detail="trailing dims of the samples [T, B] batch",
                    hint="build the replay from the examples of the sampler that produces these samples "
                         "(the env and agent it was initialised with).")
        return int(T)

    # --- sampling ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Env steps currently stored."""
        return min(self.total, self.T) * self.B

    def sampleable_range(self, total: Optional[int] = None) -> Tuple[int, int]:
        """Absolute rows ``[lo, hi)`` a sample may start at: their history and lookahead are stored."""
        total = self.total if total is None else int(total)
        oldest = max(0, total - self.T)
        lo = oldest + self.history if total > self.T else 0
        return lo, max(lo, total - self.lookahead)

    @locked("sampling a batch")
    def sample_batch(self, batch_B: int) -> Any:
        """A :data:`ReplayBatch` of ``batch_B`` transitions with n-step targets (torch tensors)."""
        rows, bs, is_weights = self._sample_idxs(int(batch_B))
        return self.transition_batch(rows, bs, is_weights)

    def _sample_idxs(self, batch_B: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, bs, is_weights)`` of ``batch_B`` sampled cells."""
        raise NotImplementedError

    def _check_sampleable(self) -> Tuple[int, int]:
        lo, hi = self.sampleable_range()
        if hi <= lo:
            raise ConfigError(
                f"{self.name}: nothing to sample yet ({self.total} rows per env stored, a sample needs "
                f"{self.lookahead} rows after it): sample only after min_steps_learn env steps, with "
                f"min_steps_learn > (n_step_return + batch_T) * batch_B.")
        return lo, hi

    def transition_batch(self, rows: np.ndarray, bs: np.ndarray, is_weights: np.ndarray) -> Any:
        """The :data:`ReplayBatch` of the cells ``(rows, bs)``."""
        idx = rows * self.B + bs
        return_, bootstrap_discount, target = self.n_step_targets(rows, bs)
        return ReplayBatch(
            agent_inputs=torch_batch(self.agent_inputs(rows, bs)), action=torch.from_numpy(self.flat.action[idx]),
            return_=torch.from_numpy(return_), bootstrap_discount=torch.from_numpy(bootstrap_discount),
            target_inputs=torch_batch(target), is_weights=torch.from_numpy(np.asarray(is_weights, dtype=np.float32)),
            idxs=torch.from_numpy(idx))

    def agent_inputs(self, rows: np.ndarray, bs: np.ndarray) -> Any:
        idx = rows * self.B + bs
        return AgentInputs(self.gather_observation(rows, bs), self.flat.prev_action[idx], self.flat.prev_reward[idx])

    def gather_observation(self, rows: np.ndarray, bs: np.ndarray) -> Any:
        """Observations at the cells ``(rows, bs)``."""
        return self.flat.observation[rows * self.B + bs]

    def n_step_targets(self, rows: np.ndarray, bs: np.ndarray) -> Tuple[np.ndarray, np.ndarray, Any]:
        """``(return_, bootstrap_discount, target_inputs)`` of the transitions starting at ``(rows, bs)``.

        Walks ``n_step_return`` steps along each env's time line and stops at the first done: a
        terminated episode gets ``bootstrap_discount = 0``, a truncated one bootstraps from its true final
        observation with ``gamma^K`` (``K`` steps summed), a window without done from row ``t + n``.
        """
        n, B, T, f = self.n_step_return, self.B, self.T, self.flat
        if n == 1:
            end = rows * B + bs
            ended = f.done[end]
            return_ = f.reward[end].astype(np.float32)
            K = np.ones(len(rows), dtype=np.int64)
        else:
            win = ((rows[:, None] + self._steps) % T) * B + bs[:, None]  # flat cells of each window
            done = f.done[win]
            ended = done.any(axis=1)
            last = np.where(ended, done.argmax(axis=1), n - 1)  # last step summed
            return_ = (f.reward[win] * (self._steps <= last[:, None])) @ self._gammas[:n]
            end = win[np.arange(len(rows)), last]
            K = last + 1
        # terminated at the window's last step can only be an end (a window without done has no terminal)
        bootstrap_discount = np.where(f.terminated[end], np.float32(0), self._gammas[K])
        # Bootstrap inputs: step t+K when the window ran its course; at an end, the true final observation
        # after the last step (a terminated end keeps the last step's own observation: its weight is 0).
        target = np.where(ended, end, ((rows + n) % T) * B + bs)
        observation = self.gather_observation(target // B, bs)
        prev_action, prev_reward = f.prev_action[target], f.prev_reward[target]
        if ended.any():
            e = np.nonzero(ended)[0]
            prev_action[e] = f.action[end[e]]
            prev_reward[e] = f.reward[end[e]]
            end_rows = end[e] // B
            has_final = self.final_obs.has(end_rows, bs[e])
            if has_final.any():
                observation[e[has_final]] = self.final_obs.get(end_rows[has_final], bs[e][has_final])
        return return_, bootstrap_discount, AgentInputs(observation, prev_action, prev_reward)

    # --- checkpoints -------------------------------------------------------------------------------
    @locked("saving the replay")
    def state_dict(self) -> Dict[str, Any]:
        """Contents and counters as plain tensors (``torch.load(weights_only=True)`` reads them)."""
        state = {"T": self.T, "B": self.B, "t": self.t, "total": self.total,
                 "buf": leaves_to_dict(self.buf), "valid": torch.from_numpy(self.valid),
                 "final_obs": self.final_obs.state_dict()}
        if self.extra is not None:
            state["extra"] = leaves_to_dict(self.extra)
        return state

    @locked("loading the replay")
    def load_state_dict(self, state: Dict[str, Any], component: Optional[str] = None) -> None:
        """Restore :meth:`state_dict`'s output; shapes must match (:class:`ShapeMismatchError` naming
        ``component``, e.g. the file, otherwise). The newest rows, whose bootstrap observations never came,
        are marked unsampleable, and the next append starts new time lines, unless ``continue_after_load``
        (exact resume: the sampler's envs continue, so the next append continues those time lines)."""
        component = component or self.name
        if (int(state["T"]), int(state["B"])) != (self.T, self.B):
            raise ShapeMismatchError(component, "rows x envs", (self.T, self.B), (int(state["T"]), int(state["B"])),
                                     hint="resume with the replay_size and batch_B the replay was saved with.")
        load_leaves(self.buf, state["buf"], component, "buf")
        if self.extra is not None:
            load_leaves(self.extra, state.get("extra", {}), component, "extra")
        self.valid[...] = state["valid"].numpy()
        self.final_obs.load_state_dict(state["final_obs"], component)
        self.t, self.total = int(state["t"]), int(state["total"])
        if self.continue_after_load:  # exact resume: the sampler continues these time lines
            return
        cut = (self.total - np.arange(1, min(self.lookahead, self.total) + 1)) % self.T
        self.valid[cut] = False
        self._cut = True
