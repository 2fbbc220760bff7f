"""``GpuSampler``: the agent stays in the master (batched inference over all envs); workers only step envs.

rlpyt's GpuSampler (Stooke & Abbeel, 2019, Sec. 3.1). Use it when the policy is too expensive to copy
into every worker: a large model, a GPU (the master's agent runs on whatever device it was moved to, CUDA
when the runner's affinity names one, CPU otherwise), or many envs per core.

Per step, through shared memory and two semaphores per worker (no pickling in the loop):

1. each worker's collector (the same ``ResetCollector``/``WaitResetCollector``/``EvalCollector`` as the
   serial sampler, with :class:`RemoteActions` mixed in) writes its envs' observations into the shared
   step buffer, posts a request (``STEP``; ``VALUE`` for V(true final obs) on truncation and for the
   bootstrap value; ``DONE`` at the end of its batch) and releases its ``obs_ready`` semaphore;
2. the master waits for ``obs_ready`` of every worker of a group, runs ``agent.step`` once on all of the
   group's rows (``agent.value`` for ``VALUE`` requests), writes actions/agent infos into the shared
   step buffer and releases each worker's ``act_ready``;
3. workers read their actions and step their envs.

Every wait is a short timed acquire with liveness, error and heartbeat checks in between (``pool``), so a
raising, killed or hung worker becomes a :class:`~rlframe.errors.WorkerError` instead of a hang.
"""
from __future__ import annotations

from multiprocessing import parent_process
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from rlframe.agents.base import AgentInputs
from rlframe.core.buffers import buffer_nbytes, numpify, torch_buffer_from_example
from rlframe.core.namedarraytuple import map_leaves
from rlframe.errors import ConfigError
from rlframe.samplers.base import TrajInfo
from rlframe.samplers.parallel.base import ParallelSamplerBase, SamplerWorker, WorkerBuilder
from rlframe.samplers.parallel.pool import wait_semaphore

STEP, VALUE, DONE = 1, 2, 3
_WORKER_TICK = 0.2  # seconds between a waiting worker's checks for shutdown / master death


class WorkerShutdown(SystemExit):
    """Raised in a worker blocked on the master when the sampler shuts down or the master is gone."""


class StepBuffers:
    """Shared per-step buffers for ``n`` envs: agent inputs, actions, agent infos and values.

    Torch tensors in shared memory; ``rows(b0, b1)`` gives the slice a worker receives.
    """

    def __init__(self, examples: Dict[str, Any], n: int):
        self.inputs = AgentInputs(*torch_buffer_from_example(
            (examples["observation"], examples["prev_action"], np.float32(0)), (n,), share_memory=True))
        self.action = torch_buffer_from_example(examples["action"], (n,), share_memory=True)
        info = examples["agent_info"]
        self.agent_info = None if info is None else torch_buffer_from_example(info, (n,), share_memory=True)
        self.value = torch.zeros(n, dtype=torch.float32).share_memory_()

    def rows(self, b0: int, b1: int) -> Dict[str, Any]:
        return dict(inputs=self.inputs[b0:b1], action=self.action[b0:b1],
                    agent_info=None if self.agent_info is None else self.agent_info[b0:b1], value=self.value[b0:b1])


class Handshake:
    """Worker side of the per-step protocol for one set of step buffers (train or eval)."""

    def __init__(self, rows: Dict[str, Any], obs_ready: Any, act_ready: Any, req: Any, quit_flag: Any):
        self.inputs_np = numpify(rows["inputs"])
        self.action_np = rows["action"].numpy()
        self.info_np = numpify(rows["agent_info"])
        self.value_np = rows["value"].numpy()
        self.obs_ready, self.act_ready = obs_ready, act_ready
        self.req, self.quit = req, quit_flag
        self.parent = parent_process()

    def request(self, kind: int) -> None:
        """Post ``kind`` for the master and wait for its answer (checking for shutdown while waiting)."""
        self.req[0] = kind
        self.obs_ready.release()
        while not self.act_ready.acquire(timeout=_WORKER_TICK):
            if self.quit[0] or (self.parent is not None and not self.parent.is_alive()):
                raise WorkerShutdown(0)
        if self.quit[0]:
            raise WorkerShutdown(0)

    def done(self) -> None:
        self.req[0] = DONE
        self.obs_ready.release()


class RemoteActions:
    """Collector mixin: the step buffers are the shared ones, actions and values come from the master."""

    handshake: Handshake

    def _init_step_buffers(self, obs_row: Any, action_row: Any, step_buffer_np: Any = None) -> None:
        super()._init_step_buffers(obs_row, action_row, self.handshake.inputs_np)

    def _act(self, t: int, itr: int):
        h = self.handshake
        h.request(STEP)
        info = None if h.info_np is None else map_leaves(np.copy, h.info_np)
        return h.action_np.copy(), info

    def _value(self, idx: Optional[List[int]]) -> np.ndarray:
        h = self.handshake
        h.request(VALUE)
        return (h.value_np if idx is None else h.value_np[idx]).copy()


class MasterAgentProxy:
    """Stands in for the agent inside a worker: resets are no-ops (non-recurrent agents only);
    ``value`` exists exactly when the master's agent has it (collectors check for it)."""

    def __init__(self, has_value: bool):
        if has_value:
            self.value = self._value_marker

    @staticmethod
    def _value_marker(*args: Any) -> None:  # never called: RemoteActions._value asks the master
        raise RuntimeError("MasterAgentProxy.value is served by the master")

    def reset(self) -> None:
        pass

    def reset_one(self, idx: int) -> None:
        pass


class GpuWorker(SamplerWorker):
    """A worker that steps envs and asks the master for actions through shared step buffers."""

    def make_agent(self) -> Any:
        cfg = self.cfg
        self.train_hs = Handshake(cfg.train_rows, cfg.obs_ready, cfg.act_ready, cfg.req, cfg.quit)
        self.eval_hs = Handshake(cfg.eval_rows, cfg.obs_ready, cfg.act_ready, cfg.req, cfg.quit)
        return MasterAgentProxy(cfg.has_value)

    def collector_class(self, cls: type, evaluation: bool) -> type:
        hs = self.eval_hs if evaluation else self.train_hs
        return type(f"Remote{cls.__name__}", (RemoteActions, cls), {"handshake": hs})

    def collect(self, itr: int) -> List[Any]:
        out = self.collector.collect_batch(itr)
        self.train_hs.done()
        return out

    def evaluate(self, itr: int) -> List[Any]:
        out = self.eval_collector.collect_evaluation(itr) if self.eval_collector is not None else []
        self.eval_hs.done()
        return out


class GpuWorkerBuilder(WorkerBuilder):
    worker_cls = GpuWorker


class GpuSampler(ParallelSamplerBase):
    """Parallel sampler with the agent in the master; see the module docstring and
    :class:`~rlframe.samplers.parallel.base.ParallelSamplerBase` for the arguments."""

    builder_cls = GpuWorkerBuilder

    def worker_groups(self) -> List[List[int]]:
        """Workers served together; the GpuSampler serves all of them in one batched inference."""
        return [list(range(self.n_workers))]

    def extra_shm_bytes(self, one_step_np: Any) -> int:
        return buffer_nbytes(one_step_np) * (self.batch_spec.B + self.eval_n_envs)

    def prepare_shared(self, examples: dict) -> None:
        if getattr(self.agent, "recurrent", False):
            raise ConfigError(f"{type(self).__name__} does not support recurrent agents yet; use CpuSampler or "
                              "SerialSampler for them.")
        ctx = self.pool.ctx
        n = self.n_workers
        self.train_bufs = StepBuffers(examples, self.batch_spec.B)
        self.eval_bufs = StepBuffers(examples, max(1, self.eval_n_envs))
        self.req = torch.zeros((n, 1), dtype=torch.int64).share_memory_()
        self.quit = torch.zeros(1, dtype=torch.int64).share_memory_()
        self.req_np, self.quit_np = self.req.numpy(), self.quit.numpy()
        self.obs_ready = [ctx.Semaphore(0) for _ in range(n)]
        self.act_ready = [ctx.Semaphore(0) for _ in range(n)]
        self.has_value = callable(getattr(self.agent, "value", None))

    def builder_kwargs(self, w: int) -> dict:
        (b0, b1), (e0, e1) = self.bounds[w], self.eval_bounds[w]
        return dict(train_rows=self.train_bufs.rows(b0, b1), eval_rows=self.eval_bufs.rows(e0, e1),
                    obs_ready=self.obs_ready[w], act_ready=self.act_ready[w], req=self.req[w], quit=self.quit,
                    has_value=self.has_value)

    # --- serving ---------------------------------------------------------------------------------------
    def _rows(self, ranks: Sequence[int], bounds: Sequence[Tuple[int, int]]) -> Any:
        ranks = sorted(ranks)
        if all(bounds[a][1] == bounds[b][0] for a, b in zip(ranks, ranks[1:])):
            return slice(bounds[ranks[0]][0], bounds[ranks[-1]][1])
        return torch.as_tensor([i for r in ranks for i in range(*bounds[r])], dtype=torch.long)

    def _serve(self, bufs: StepBuffers, bounds: Sequence[Tuple[int, int]], groups: List[List[int]]) -> None:
        """Answer the workers' requests until every worker of every group has posted DONE."""
        pool, agent, req = self.pool, self.agent, self.req_np
        obs, pa, pr = bufs.inputs
        active = [list(g) for g in groups]
        while any(active):
            for g in active:
                stepping = []
                for w in list(g):
                    while True:
                        wait_semaphore(self.obs_ready[w], pool, w)
                        kind = int(req[w, 0])
                        if kind == STEP:
                            stepping.append(w)
                        elif kind == VALUE:
                            sl = slice(*bounds[w])
                            bufs.value[sl] = agent.value(obs[sl], pa[sl], pr[sl]).reshape(-1).to("cpu", torch.float32)
                            self.act_ready[w].release()
                            continue
                        else:
                            g.remove(w)
                        break
                if stepping:
                    rows = self._rows(stepping, bounds)
                    step = agent.step(obs[rows], pa[rows], pr[rows])
                    bufs.action[rows] = step.action
                    if bufs.agent_info is not None:
                        bufs.agent_info[rows] = step.agent_info
                    for w in stepping:
                        self.act_ready[w].release()

    def obtain_samples(self, itr: int) -> Tuple[Any, List[TrajInfo]]:
        """One ``[T, B]`` batch: ``(samples (numpy, shared), traj_infos)``; the master's agent acts."""
        with self._running() as pool:
            pool.broadcast("collect", itr)
            with torch.no_grad():
                self._serve(self.train_bufs, self.bounds, self.worker_groups())
            return self.samples_np, self._finish(pool.gather(range(self.n_workers), what="collecting"))

    def evaluate_agent(self, itr: int) -> List[TrajInfo]:
        """Evaluation episodes on the workers' eval envs, the master's agent in eval mode."""
        if not self.eval_n_envs:
            return []
        with self._running() as pool:
            self.agent.eval_mode(itr)
            ranks = [w for w, (e0, e1) in enumerate(self.eval_bounds) if e1 > e0]
            pool.broadcast("evaluate", itr, ranks=ranks)
            with torch.no_grad():
                self._serve(self.eval_bufs, self.eval_bounds, [ranks])
            return self._finish(pool.gather(ranks, what="evaluating"))[: self.eval_max_trajectories]

    def release_shared(self) -> None:
        if getattr(self, "quit_np", None) is not None:
            self.quit_np[0] = 1
            for sem in self.act_ready:
                sem.release()

    def shutdown(self) -> None:
        super().shutdown()
        self.train_bufs = self.eval_bufs = None
        self.obs_ready = self.act_ready = []
        self.req = self.quit = self.req_np = self.quit_np = None
