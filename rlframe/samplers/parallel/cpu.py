"""``CpuSampler``: envs and an agent copy in every worker; one synchronisation per batch.

rlpyt's CpuSampler (Stooke & Abbeel, 2019, Sec. 3.1): each worker steps its B-slice of the envs with its
own copy of the agent, whose model weights live in shared memory (``agent.initialize(share_memory=True)``),
so the master's optimizer updates are seen by every worker without copies (``agent.sync_shared_memory()``
copies them from a CUDA model when there is one). Per batch the master sends ``collect(itr)`` to each
worker over its pipe; each worker runs ``T`` steps of its envs with the shared collectors, writing straight
into the shared ``[T, B]`` samples buffer, and replies with the batch's TrajInfos. One round trip per worker
per batch of ``T * B / n_workers`` env steps: the cheapest synchronisation possible, so use it whenever the
policy is cheap enough to run on CPU in the workers.
"""
from __future__ import annotations

from typing import Any, List, Tuple

from rlframe.samplers.base import TrajInfo
from rlframe.samplers.parallel.base import ParallelSamplerBase, SamplerWorker, WorkerBuilder


class CpuWorker(SamplerWorker):
    """A worker stepping its envs with its own copy of the agent (weights shared with the master)."""

    def make_agent(self) -> Any:
        return self.cfg.agent

    def collect(self, itr: int) -> List[Any]:
        self.agent.sample_mode(itr)
        return self.collector.collect_batch(itr)

    def evaluate(self, itr: int) -> List[Any]:
        if self.eval_collector is None:
            return []
        self.agent.eval_mode(itr)
        return self.eval_collector.collect_evaluation(itr)


class CpuWorkerBuilder(WorkerBuilder):
    worker_cls = CpuWorker


class CpuSampler(ParallelSamplerBase):
    """Parallel sampler with an agent copy per worker; see the module docstring and
    :class:`~rlframe.samplers.parallel.base.ParallelSamplerBase` for the arguments."""

    agent_share_memory = True
    builder_cls = CpuWorkerBuilder
    # Each worker saves its envs, its collector (with its agent copy's recurrent state) and its random states
    # (ParallelSamplerBase.state_dict): a resumed run continues bit-exactly (docs/scaling.md).
    exact_resume = True

    def builder_kwargs(self, w: int) -> dict:
        return {"agent": self.agent}

    def obtain_samples(self, itr: int) -> Tuple[Any, List[TrajInfo]]:
        """One ``[T, B]`` batch from all workers: ``(samples (numpy, shared), traj_infos)``."""
        with self._running() as pool:
            self.agent.sync_shared_memory()
            return self.samples_np, self._finish(pool.call("collect", itr))

    def evaluate_agent(self, itr: int) -> List[TrajInfo]:
        """Evaluation episodes on the workers' eval envs (agent copies in eval mode)."""
        if not self.eval_n_envs:
            return []
        with self._running() as pool:
            self.agent.sync_shared_memory()
            ranks = [w for w, (e0, e1) in enumerate(self.eval_bounds) if e1 > e0]
            return self._finish(pool.call("evaluate", itr, ranks=ranks))[: self.eval_max_trajectories]
