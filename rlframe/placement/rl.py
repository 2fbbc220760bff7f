"""``rlframe placement rl``: place a netlist with a learned policy -- zero-shot from a checkpoint
(``time=0``) or after fine-tuning it (or training from scratch) with PPO for a wall-clock budget.

The policy is one of :data:`rlframe.placement.policies.POLICIES` (its weights do not depend on the
netlist or the grid, so a checkpoint trained on one design places another). ``checkpoint="pretrained"``
loads the weights shipped in ``rlframe/placement/data/pretrained/`` (how they were made: the README there,
``experiments/placement_pretrain.py``).

The result is the best of the policy's own placements (best-of-N, counted in the result as
``evaluations`` and ``sampled``): zero-shot, the deterministic placement and ``samples`` placements drawn
from the stochastic policy without training (:meth:`PolicyTrainer.sample`); fine-tuning, the same zero-shot
best-of-N first when a checkpoint is given (so the best starts at the prior's level; sampled at
:data:`WARM_TEMPERATURE`, PPO then starts from the checkpoint at :data:`PRIOR_TEMPERATURE`, :func:`temper`),
then the deterministic placement after every ``eval_every``-th PPO iteration and after the last, every
complete episode the stochastic policy sampled while training, and the placements it samples without
training in the rest of the ``sample_share`` of the budget (a sampled placement's actions are replayed to
rebuild it: the env is deterministic). :attr:`PolicyTrainer.history` records when the best improved (time, env steps, cost).
No baseline placer is called. The written ``.plc`` holds the soft macros where
the score put them and is scored under the protocol (:func:`rlframe.placement.evaluate`).

Checkpoint format (``torch.save``): ``{"policy": name, "model_kwargs": {...}, "state_dict": {...},
"trained_on": [netlist paths], "env_steps": int, "seconds": float}``.

:class:`PolicyTrainer` is the PPO loop shared by fine-tuning and pre-training
(experiments/placement_pretrain.py): one netlist at a time, the weights and the optimizer state carried
over when the netlist changes.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from rlframe.errors import ConfigError

OBSERVATION = {"cell": "image", "cnn": "image", "gnn": "graph"}
ENV_ID = "rlframe.placement:rlframe/MacroPlacement-v0"
#: ``--checkpoint pretrained``: the shipped pre-trained MaskPlace CNN (README.md / PROVENANCE beside it)
PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "pretrained")
PRETRAINED = os.path.join(PRETRAINED_DIR, "cnn.pt")
#: PPO settings of fine-tuning and pre-training (experiments/placement_pretrain.py records its own)
PPO_KWARGS = dict(discount=0.99, gae_lambda=0.95, learning_rate=1e-3, epochs=4, minibatches=4, ratio_clip=0.2,
                  entropy_loss_coeff=0.003)


#: best-of-N defaults of :func:`rl_place` (docs/placement.md, "The pre-trained placer", measured there):
#: placements sampled after the zero-shot one, and the share of a fine-tuning budget spent sampling
SAMPLES = 64
SAMPLE_SHARE = 0.3
#: PPO iterations between two deterministic evaluations while fine-tuning (one forward per macro: on
#: ariane133 with 4 envs x 32 steps, evaluating after every iteration took 32 % of the learner's CPU)
EVAL_EVERY = 4
#: fine-tuning from a checkpoint: PPO starts from its logits divided by this (a flatter prior explores more;
#: the deterministic placement, an argmax, is unchanged). 1: the checkpoint as it is. Measured in
#: docs/placement.md, "The pre-trained placer", session 6 (8 against 1, 2, 4 on mempool_tile and ariane136)
PRIOR_TEMPERATURE = 8.0
#: the same for the checkpoint's first best-of-N only (the prior's samples before PPO: on ariane136 its best
#: sample was best at 2); None: :data:`PRIOR_TEMPERATURE`
WARM_TEMPERATURE: Optional[float] = 2.0
#: :meth:`PolicyTrainer.imitate`: states per optimizer step when the imitated placements have more (a random
#: subset each step; on ariane133 20 full steps over 8 x 133 states took 25 s, 15x one placement's 1.65 s;
#: with subsets of 256, 4.5 s)
IMITATE_BATCH = 256
#: the layer of each policy (rlframe.placement.policies.POLICIES) whose output is the logits
LOGIT_LAYER = {"cell": "pi", "cnn": "head.out", "gnn": "head.out"}


@dataclasses.dataclass
class RlResult:
    """What :func:`rl_place` did: the protocol score of ``out``, time, steps and the checkpoint it saved.
    The result is the best of ``evaluations`` deterministic and ``sampled`` sampled placements of the policy;
    ``source`` says which kind won: ``"deterministic"`` or ``"sampled"``."""

    out: str
    costs: Dict[str, float]
    seconds: float
    env_steps: int
    evaluations: int
    checkpoint: Optional[str]
    source: str = "deterministic"
    sampled: int = 0
    #: the checkpoint's deterministic placement before any training (None: no checkpoint)
    zero_shot_cost: Optional[float] = None
    #: every improvement of the best: ``(seconds since the start, env steps, cost, source)``
    history: List[Tuple[float, int, float, str]] = dataclasses.field(default_factory=list)
    #: ``restore_best_policy``: the deterministic cost of the weights put back after PPO (None: none put back)
    restored_cost: Optional[float] = None


class BestWeights:
    """The policy weights whose deterministic placement was the cheapest seen, kept during PPO (early
    stopping's best checkpoint): a long PPO phase can collapse late (docs/placement.md, session 9: on ariane133
    the deterministic cost went from 0.74 to 0.93 after 300 s), and the sampling after PPO would then draw
    from the collapsed policy. :meth:`restore` puts the kept weights back when the current ones are worse."""

    def __init__(self) -> None:
        self.cost = float("inf")
        self.state: Optional[Dict[str, torch.Tensor]] = None

    def offer(self, cost: Optional[float], model: torch.nn.Module) -> None:
        """Keep ``model``'s weights if ``cost`` (its deterministic placement's; None: a dead end) is the lowest."""
        if cost is not None and cost < self.cost:
            self.cost = cost
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def restore(self, cost: Optional[float], model: torch.nn.Module) -> Optional[float]:
        """Load the kept weights into ``model`` if its own deterministic ``cost`` is higher (or a dead end);
        returns the kept cost when it did, None otherwise."""
        if self.state is None or (cost is not None and cost <= self.cost):
            return None
        model.load_state_dict(self.state)
        return self.cost


def resolve_checkpoint(path: str) -> str:
    """``"pretrained"`` -> the shipped weights; any other value is a path."""
    if path == "pretrained":
        if not os.path.isfile(PRETRAINED):
            raise ConfigError(f"rlframe placement rl: the pre-trained weights {PRETRAINED} are missing from this "
                              "installation; reinstall rlframe or make them with experiments/placement_pretrain.py")
        return PRETRAINED
    return path


def load_checkpoint(path: str) -> Dict[str, Any]:
    """A checkpoint written by :func:`rl_place` (``save_checkpoint=``), by
    experiments/placement_pretrain.py, or ``"pretrained"``; named errors otherwise."""
    path = resolve_checkpoint(path)
    if not os.path.isfile(path):
        raise ConfigError(f"rlframe placement rl: checkpoint {path!r} does not exist; give --checkpoint pretrained "
                          "(the shipped weights) or train one with --time SECONDS --save-checkpoint PATH")
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or "state_dict" not in ck or ck.get("policy") not in OBSERVATION:
        raise ConfigError(f"rlframe placement rl: {path!r} is not a placement-policy checkpoint "
                          "(expected keys policy, model_kwargs, state_dict)")
    return ck


def temper(policy: str, state_dict: Dict[str, Any], temperature: float) -> Dict[str, Any]:
    """``state_dict`` of ``policy`` with its logits divided by ``temperature`` (the weight and bias of its
    last layer, :data:`LOGIT_LAYER`): the same policy at a softmax temperature (> 1: flatter). The other
    tensors are shared, not copied."""
    if not temperature > 0:
        raise ConfigError(f"rlframe placement rl: prior temperature {temperature}; give a number > 0 (1: unchanged)")
    layer = LOGIT_LAYER[policy] + "."
    keys = [k for k in state_dict if k.startswith(layer)]
    if not keys:
        raise ConfigError(f"rlframe placement rl: the {policy!r} checkpoint has no {LOGIT_LAYER[policy]!r} layer "
                          "(its logits); it does not match rlframe.placement.policies")
    return {k: (v / temperature if k in keys else v) for k, v in state_dict.items()}


def env_kwargs_for(netlist: str, plc: Optional[str], policy: str, reward: str = "mix") -> Dict[str, Any]:
    """``GymEnv`` keyword arguments of the placement env for ``policy`` on ``netlist``."""
    from rlframe.placement.designs import list_designs, resolve_plc
    key = "design" if netlist in list_designs() else "netlist"
    return {"id": ENV_ID, key: netlist, "plc": resolve_plc(netlist, plc), "observation": OBSERVATION[policy],
            "reward": reward,
            # the masked policy never picks an infeasible cell; the sampler's start-up probe
            # (rlframe/samplers/checks.py) steps a random action, which "error" would refuse
            "infeasible_action": "penalty"}


@dataclasses.dataclass
class Candidate:
    """One of the policy's complete placements: its proxy cost (protocol, FD from the centre), the actions
    that made it and whether the deterministic or the sampling policy made it."""

    cost: float
    actions: Tuple[int, ...]
    source: str


class PolicyTrainer:
    """PPO (rlframe.algos.pg.PPO, the masked ``CategoricalPgAgent``) on a placement policy, one netlist at
    a time (:meth:`use`); the weights and Adam's state carry over to the next netlist (the policies'
    parameters do not depend on the grid). Tracks the best placement of the current netlist (:attr:`best`)
    among the deterministic evaluations (:meth:`evaluate`), the complete sampled training episodes and the
    placements of :meth:`sample`; :attr:`history` lists its improvements ``(seconds since :attr:`started`,
    env steps of training and sampling since :attr:`steps_origin`, cost, source)``.

    Args:
        policy: a key of :data:`rlframe.placement.policies.POLICIES`.
        model_kwargs: the policy's constructor arguments (``grid`` is set per netlist for ``gnn``).
        state_dict: initial weights (None: a fresh policy).
        reward: the env's reward (``"mix"``: dense -ΔHPWL plus the final -proxy cost).
        batch_T, batch_B: sampler batch (time steps x envs) of one PPO iteration.
        algo_kwargs: PPO arguments (default :data:`PPO_KWARGS`).
        seed: sampler and torch seed.
        env_kwargs: extra env arguments over :func:`env_kwargs_for`'s (e.g. ``fd="none"``: the final
            cost with the soft macros at the .plc's positions, rlframe/placement/env/env.py).
    """

    def __init__(self, policy: str = "cnn", model_kwargs: Optional[Dict[str, Any]] = None,
                 state_dict: Optional[Dict[str, Any]] = None, reward: str = "mix", batch_T: int = 100,
                 batch_B: int = 4, algo_kwargs: Optional[Dict[str, Any]] = None, seed: int = 0,
                 env_kwargs: Optional[Dict[str, Any]] = None):
        from rlframe.placement.policies import POLICIES
        if policy not in POLICIES:
            raise ConfigError(f"rlframe placement rl: policy {policy!r}; choose one of {sorted(POLICIES)}")
        self.policy, self.reward, self.seed = policy, reward, seed
        self.model_kwargs = {k: v for k, v in (model_kwargs or {}).items() if k != "grid"}
        self.state_dict = state_dict
        self.extra_env_kwargs = dict(env_kwargs or {})
        self.batch_T, self.batch_B = batch_T, batch_B
        self.algo_kwargs = dict(algo_kwargs or PPO_KWARGS)
        self.optim_state: Optional[Dict[str, Any]] = None
        self.env_steps = 0
        self.evaluations = 0   # deterministic placements scored
        self.sampled = 0       # complete sampled training episodes scored
        self.itr = 0
        self.last_costs: List[float] = []                  # sampled episodes of the last iteration
        self.last_deterministic: Optional[float] = None    # the last deterministic placement's cost
        self.sampler = self.agent = self.algo = self.show = None
        self._sample_envs: List[Any] = []   # the env copies of :meth:`sample` (per netlist)
        self.sample_steps = 0                # env steps of :meth:`sample` (not counted in env_steps)
        self.netlist: Optional[str] = None
        self.best: Optional[Candidate] = None
        #: :attr:`elite`'s size: the ``elite_size`` cheapest distinct placements of the netlist are kept
        #: (0: none; rl_place's ``imitate_top``); :attr:`elite_changes` counts the changes of the list
        self.elite_size = 0
        self.elite: List[Candidate] = []
        self.elite_changes = 0
        self._imitated = (-1, 0)   # (elite_changes, repeats) of the last imitate call: its subsets' seed
        self.started = time.perf_counter()   # the clock of :attr:`history` (rl_place sets its own start)
        self.steps_origin = 0                 # env steps not counted in :attr:`history` (a checkpoint's)
        self.history: List[Tuple[float, int, float, str]] = []
        torch.manual_seed(seed)

    # ----- netlists ---------------------------------------------------------------------------------
    def use(self, netlist: str, plc: Optional[str] = None, train: bool = True) -> None:
        """Switch to ``netlist`` (a shipped design name or a path; its ``.plc`` found beside it unless
        given). ``train=False`` builds only the policy and the evaluation env (zero-shot)."""
        from rlframe.agents import CategoricalPgAgent
        from rlframe.algos.pg import PPO
        from rlframe.envs.gym import GymEnv
        from rlframe.placement.policies import POLICIES
        from rlframe.samplers.serial import SerialSampler

        self._release()
        self.env_kwargs = {**env_kwargs_for(netlist, plc, self.policy, self.reward), **self.extra_env_kwargs}
        self.show = GymEnv(**self.env_kwargs, render_mode="rgb_array")
        model_kwargs = dict(self.model_kwargs)
        if self.policy == "gnn":
            grid = self.show.unwrapped.problem.grid
            model_kwargs["grid"] = (grid.rows, grid.cols)
        self.agent = CategoricalPgAgent(POLICIES[self.policy], model_kwargs=model_kwargs,
                                        initial_model_state_dict=self.state_dict)
        self.netlist, self.best, self._sample_envs, self.history = netlist, None, [], []
        self.elite = []
        if not train:
            self.agent.initialize(self.show.spaces)
            return
        self.sampler = SerialSampler(GymEnv, self.env_kwargs, batch_T=self.batch_T, batch_B=self.batch_B,
                                     max_decorrelation_steps=0)
        self.algo = PPO(**self.algo_kwargs)
        self.sampler.initialize(self.agent, seed=self.seed + self.itr, bootstrap_value=self.algo.bootstrap_value)
        self.algo.initialize(self.agent, n_itr=10 ** 9, batch_spec=self.sampler.batch_spec,
                             mid_batch_reset=self.sampler.mid_batch_reset)
        if self.optim_state is not None:
            self.algo.load_optim_state_dict(self.optim_state)
        self._running: List[List[int]] = [[] for _ in range(self.batch_B)]

    def _release(self) -> None:
        if self.agent is not None and self.agent.model is not None:
            self.state_dict = {k: v.detach().clone() for k, v in self.agent.model.state_dict().items()}
        if self.algo is not None:
            self.optim_state = self.algo.optim_state_dict()
        if self.sampler is not None:
            self.sampler.shutdown()
        self.sampler = self.algo = None

    def close(self) -> None:
        """Shut the sampler down (the weights stay in :meth:`model_state_dict`)."""
        self._release()

    # ----- training ---------------------------------------------------------------------------------
    def iterate(self) -> List[float]:
        """One PPO iteration on the current netlist; returns the proxy costs of the complete sampled
        episodes that ended in it (the best is kept in :attr:`best`)."""
        if self.sampler is None:
            raise RuntimeError("PolicyTrainer.iterate: call use(netlist) (with train=True) first")
        self.agent.sample_mode(self.itr)
        samples, _ = self.sampler.obtain_samples(self.itr)
        self.env_steps += self.batch_T * self.batch_B   # before _collect: its candidates come from these steps
        costs = self.last_costs = self._collect(samples)
        self.agent.train_mode(self.itr)
        self.algo.optimize_agent(self.itr, samples)
        self.itr += 1
        return costs

    def _collect(self, samples) -> List[float]:
        """Follow each env column's actions; a complete episode is a candidate for :attr:`best`."""
        env = samples.env
        action = np.asarray(samples.agent.action)
        done, term = np.asarray(env.done, bool), np.asarray(env.terminated, bool)
        info = env.env_info
        dead, proxy = np.asarray(info.dead_end, bool), np.asarray(info.proxy_cost, float)
        infeasible = np.asarray(info.infeasible_action, bool)
        costs = []
        for b in range(action.shape[1]):
            run = self._running[b]
            for t in range(action.shape[0]):
                run.append(int(action[t, b]))
                if not done[t, b]:
                    continue
                if term[t, b] and not dead[t, b] and not infeasible[t, b]:
                    self.sampled += 1
                    costs.append(float(proxy[t, b]))
                    self._offer(Candidate(float(proxy[t, b]), tuple(run), "sampled"))
                run.clear()
        return costs

    def _offer(self, cand: Candidate) -> None:
        if not np.isfinite(cand.cost):
            return
        if self.best is None or cand.cost < self.best.cost:
            self.best = cand
            self.history.append((time.perf_counter() - self.started,
                                 self.env_steps + self.sample_steps - self.steps_origin,
                                 cand.cost, cand.source))
        self._remember(cand)

    def _remember(self, cand: Candidate) -> None:
        """Keep ``cand`` in :attr:`elite` if it is among the :attr:`elite_size` cheapest distinct placements."""
        elite = self.elite
        if self.elite_size <= 0 or (len(elite) >= self.elite_size and cand.cost >= elite[-1].cost) \
                or any(e.actions == cand.actions for e in elite):
            return
        at = next((i for i, e in enumerate(elite) if cand.cost < e.cost), len(elite))
        elite.insert(at, cand)
        del elite[self.elite_size:]
        self.elite_changes += 1

    def evaluate(self) -> Optional[float]:
        """The deterministic policy's placement of the current netlist (a candidate for :attr:`best`);
        its proxy cost, None at a dead end."""
        self.agent.eval_mode(self.itr)
        actions: List[int] = []
        env = self.show
        obs, action, reward = env.reset(), torch.zeros(1, dtype=torch.long), torch.zeros(1)
        from rlframe.core.namedarraytuple import map_leaves
        while True:
            x = map_leaves(lambda a: torch.as_tensor(a)[None], obs)
            action = self.agent.step(x, action, reward).action
            actions.append(int(action[0]))
            obs, r, terminated, truncated, info = env.step(actions[-1])
            reward = torch.tensor([float(r)])
            if terminated or truncated:
                break
        self.evaluations += 1
        self.last_deterministic = None
        if not terminated or getattr(info, "dead_end", False) or getattr(info, "infeasible_action", False):
            return None
        cost = self.last_deterministic = float(info.proxy_cost)
        self._offer(Candidate(cost, tuple(actions), "deterministic"))
        return cost

    def sample(self, episodes: Optional[int] = None, seconds: Optional[float] = None,
               envs: int = 16, temperature: float = 1.0) -> List[float]:
        """Best-of-N without training: complete placements drawn from the stochastic policy (each a
        candidate for :attr:`best`), ``envs`` copies of the env stepped in lockstep with one batched
        forward per step. Stops after ``episodes`` episodes (dead ends included) or once ``seconds``
        have passed (whichever comes first; episodes still running then are dropped). Returns the
        proxy costs of the complete placements among them. ``temperature``: the policy's logits are
        divided by it while sampling (:func:`temper`; < 1: closer to its argmax), then restored."""
        if temperature == 1.0:
            return self._sample(episodes, seconds, envs)
        model = self.agent.model
        kept = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(temper(self.policy, kept, temperature))
        try:
            return self._sample(episodes, seconds, envs)
        finally:
            model.load_state_dict(kept)

    def _sample(self, episodes: Optional[int], seconds: Optional[float], envs: int) -> List[float]:
        from rlframe.core.buffers import buffer_from_example, torchify
        from rlframe.envs.gym import GymEnv

        if episodes is None and seconds is None:
            raise ConfigError("PolicyTrainer.sample: give episodes= or seconds= (or both)")
        if (seconds is not None and seconds <= 0) or episodes == 0:
            return []
        t0 = time.perf_counter()
        B = max(1, int(envs if episodes is None else min(envs, episodes)))
        pool = self._sample_envs
        while len(pool) < B:
            pool.append(GymEnv(**self.env_kwargs))
        self.agent.sample_mode(self.itr)
        first = pool[0].reset()
        obs = buffer_from_example(first, (B,))
        obs[0] = first
        for b in range(1, B):
            obs[b] = pool[b].reset()
        runs: List[List[int]] = [[] for _ in range(B)]
        prev_a, prev_r = torch.zeros(B, dtype=torch.long), torch.zeros(B)
        costs: List[float] = []
        ended = 0   # episodes ended, dead ends included
        while (episodes is None or ended < episodes) and \
                (seconds is None or time.perf_counter() - t0 < seconds):
            action = self.agent.step(torchify(obs), prev_a, prev_r).action
            for b in range(B):
                a = int(action[b])
                runs[b].append(a)
                step = pool[b].step(a)
                self.sample_steps += 1
                if step.terminated or step.truncated:
                    if episodes is not None and ended >= episodes:   # the last round's extra episodes
                        continue
                    ended += 1
                    info = step.env_info
                    if step.terminated and not getattr(info, "dead_end", False) \
                            and not getattr(info, "infeasible_action", False):
                        self.sampled += 1
                        costs.append(float(info.proxy_cost))
                        self._offer(Candidate(costs[-1], tuple(runs[b]), "sampled"))
                    runs[b] = []
                    obs[b] = pool[b].reset()
                else:
                    obs[b] = step.observation
        return costs

    def imitate(self, cand: Union[Candidate, Sequence[Candidate]], steps: int) -> float:
        """Self-imitation (Oh et al., ICML 2018, "Self-Imitation Learning"): ``steps`` steps of PPO's
        optimizer raising the log-likelihood of ``cand``'s actions in the states they met (``cand`` is one
        of the policy's own placements, usually :attr:`best`, or several, e.g. :attr:`elite`: then every
        step raises the mean over all their actions, the elite update of the cross-entropy method, Rubinstein
        1999, with the policy's own samples as the elite), so that the policy samples around its best
        placements. A step over more than :data:`IMITATE_BATCH` states uses a random subset of that many
        (seeded by the trainer's seed). Returns the mean log-likelihood of all those actions after the steps."""
        from rlframe.core.buffers import buffer_from_example, torchify
        if self.algo is None:
            raise RuntimeError("PolicyTrainer.imitate: call use(netlist) (with train=True) first")
        cands = [cand] if isinstance(cand, Candidate) else list(cand)
        if not cands:
            raise ConfigError("PolicyTrainer.imitate: no placement to imitate; give a Candidate or a non-empty list")
        env = self.show
        obs = env.reset()
        seen = buffer_from_example(obs, (sum(len(c.actions) for c in cands),))
        t = 0
        for c in cands:
            obs = env.reset() if t else obs
            for a in c.actions:
                seen[t] = obs
                obs = env.step(a).observation
                t += 1
        actions = [a for c in cands for a in c.actions]
        observation, action = torchify(seen), torch.as_tensor(actions, dtype=torch.long)
        zeros = (torch.zeros_like(action), torch.zeros(len(action)))
        self.agent.train_mode(self.itr)

        def mean_log_likelihood(rows=slice(None)):
            dist_info, _ = self.agent(observation[rows], zeros[0][rows], zeros[1][rows])
            return self.agent.distribution.log_likelihood(action[rows], dist_info).mean()

        n = len(actions)
        # a new subset sequence per call; the first call at each elite_changes keeps its old seed
        repeat = self._imitated[1] + 1 if self._imitated[0] == self.elite_changes else 0
        self._imitated = (self.elite_changes, repeat)
        gen = torch.Generator().manual_seed(self.seed + self.elite_changes + 100_003 * repeat)
        for _ in range(max(0, int(steps))):
            rows = slice(None) if n <= IMITATE_BATCH else torch.randperm(n, generator=gen)[:IMITATE_BATCH]
            self.algo.optimizer.zero_grad()
            (-mean_log_likelihood(rows)).backward()
            self.algo.optimizer.step()
        with torch.no_grad():   # over all the states, IMITATE_BATCH at a time
            total = sum(float(mean_log_likelihood(slice(i, i + IMITATE_BATCH))) * min(IMITATE_BATCH, n - i)
                        for i in range(0, n, IMITATE_BATCH))
        return total / n

    def replay(self, cand: Candidate):
        """Re-run ``cand``'s actions in the evaluation env; returns the env (its ``placement()`` is the
        candidate's, soft macros where FD put them)."""
        env = self.show.unwrapped
        env.reset()
        info: Dict[str, Any] = {}
        for a in cand.actions:
            _, _, _, _, info = env.step(a)
        # sampled costs come from the sampler's float32 buffers
        if abs(float(info["proxy_cost"]) - cand.cost) > 1e-5 * max(1.0, abs(cand.cost)):
            raise RuntimeError(f"PolicyTrainer.replay: the placement's proxy cost {info['proxy_cost']} differs "
                               f"from the recorded {cand.cost} (the env is not deterministic?)")
        return env

    def model_state_dict(self) -> Dict[str, Any]:
        return self.agent.model.state_dict() if self.agent is not None and self.agent.model is not None \
            else self.state_dict

    def checkpoint(self, trained_on: Sequence[str], seconds: float, **extra: Any) -> Dict[str, Any]:
        """The checkpoint dict of :func:`load_checkpoint`."""
        return {"policy": self.policy, "model_kwargs": dict(self.model_kwargs), "state_dict": self.model_state_dict(),
                "trained_on": [str(n) for n in trained_on], "env_steps": self.env_steps, "seconds": seconds,
                **extra}


def rl_place(netlist: str, out: str, plc: Optional[str] = None, checkpoint: Optional[str] = None,
             policy: str = "cnn", seconds: float = 0.0, seed: int = 0, fd: str = "centre",
             reward: str = "mix", save_checkpoint: Optional[str] = None, batch_T: int = 32,
             batch_B: int = 4, on_iteration=None, algo_kwargs: Optional[Dict[str, Any]] = None,
             samples: Optional[int] = None, sample_share: Optional[float] = None,
             sample_envs: int = 16, eval_every: Optional[int] = None, imitate: int = 0,
             env_kwargs: Optional[Dict[str, Any]] = None,
             prior_temperature: Optional[float] = None, warm_temperature: Optional[float] = None,
             imitate_top: int = 1, sample_temperature: float = 1.0,
             imitate_interval: Optional[float] = None, restore_best_policy: bool = False) -> RlResult:
    """Place ``netlist`` with a policy; see the module docstring. ``seconds`` is the whole budget: no PPO
    iteration starts that the last one's duration says would end past it (but at least one runs).
    ``on_iteration(trainer, elapsed)`` is called after each iteration (logging).

    Best-of-N sampling without training (:meth:`PolicyTrainer.sample`, ``sample_envs`` envs in lockstep):
    zero-shot (``seconds=0``), ``samples`` placements drawn from the policy after its deterministic one.
    Fine-tuning, ``sample_share`` of the ``seconds`` budget is spent sampling without training: with a
    checkpoint, first the zero-shot best-of-N (``samples`` placements from the checkpoint's policy, cut short
    if they would take the whole share), so that the best starts at the prior's level; PPO gets the other
    ``1 - sample_share`` of the budget; the rest of the share samples from the fine-tuned policy at the end.
    The deterministic policy is evaluated after every ``eval_every``-th PPO iteration and after the last.
    ``imitate > 0``: that many self-imitation steps (:meth:`PolicyTrainer.imitate`) on the best placement
    before PPO starts and whenever it improved since (before each PPO iteration, and in the final sampling
    phase before each round of ``sample_envs`` placements); opt-in. ``imitate_top=k``: each of those
    imitates the ``k`` cheapest distinct placements found so far (:attr:`PolicyTrainer.elite`; the
    cross-entropy method's elite) instead of the best alone, whenever that list changed (1: the best only).
    ``imitate_interval=s``: also imitate when ``s`` seconds passed since the last imitation, changed or not
    (pulls a policy that PPO moved away from its elite back to it; None: on changes only).
    ``restore_best_policy``: after PPO, put back the weights of its cheapest deterministic placement (the
    checkpoint's own first) if the last one is worse (:class:`BestWeights`; the result's ``restored_cost``).
    ``sample_temperature``: the policy's logits are divided by it in the sampling phase after PPO (< 1:
    samples closer to the fine-tuned policy's argmax; 1: as it is).
    ``prior_temperature``: fine-tuning (``seconds > 0``) from a checkpoint, its logits are divided by this
    first (:func:`temper`); zero-shot placements use the checkpoint as it is. ``warm_temperature``: the
    temperature of the checkpoint's first best-of-N only (None: ``prior_temperature``).
    None: :data:`SAMPLES` / :data:`SAMPLE_SHARE` / :data:`EVAL_EVERY` / :data:`PRIOR_TEMPERATURE` /
    :data:`WARM_TEMPERATURE`.

    ``env_kwargs``: extra env arguments (:class:`PolicyTrainer`), e.g. ``fd="none"`` to train and choose
    the best placement on the cost with the soft macros at the .plc's positions; ``fd`` here still
    names the regime ``out`` is scored in."""
    samples = SAMPLES if samples is None else int(samples)
    sample_share = SAMPLE_SHARE if sample_share is None else float(sample_share)
    eval_every = EVAL_EVERY if eval_every is None else int(eval_every)
    prior_temperature = PRIOR_TEMPERATURE if prior_temperature is None else float(prior_temperature)
    if warm_temperature is None:
        warm_temperature = prior_temperature if WARM_TEMPERATURE is None else WARM_TEMPERATURE
    if samples < 0 or not 0.0 <= sample_share < 1.0 or eval_every < 1 or imitate_top < 1:
        raise ConfigError(f"rlframe placement rl: samples={samples}, sample_share={sample_share}, "
                          f"eval_every={eval_every}, imitate_top={imitate_top}; need samples >= 0, "
                          "0 <= sample_share < 1, eval_every >= 1 and imitate_top >= 1")
    if imitate_interval is not None and not imitate_interval >= 0:
        raise ConfigError(f"rlframe placement rl: imitate interval {imitate_interval}; give seconds >= 0 "
                          "(None: imitate only when the elite changes)")
    if not sample_temperature > 0:
        raise ConfigError(f"rlframe placement rl: sample temperature {sample_temperature}; give a number > 0 "
                          "(1: unchanged)")
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-step forwards of one env: a thread pool only costs time
    try:
        return _rl_place(netlist, out, plc, checkpoint, policy, seconds, seed, fd, reward, save_checkpoint,
                         batch_T, batch_B, t0, on_iteration, algo_kwargs, samples, sample_share, sample_envs,
                         eval_every, imitate, env_kwargs, prior_temperature, float(warm_temperature),
                         int(imitate_top), float(sample_temperature), imitate_interval, bool(restore_best_policy))
    finally:
        torch.set_num_threads(threads)


def _rl_place(netlist, out, plc, checkpoint, policy, seconds, seed, fd, reward, save_checkpoint,
              batch_T, batch_B, t0, on_iteration, algo_kwargs, samples, sample_share, sample_envs,
              eval_every, imitate, env_kwargs=None, prior_temperature=1.0, warm_temperature=1.0,
              imitate_top=1, sample_temperature=1.0, imitate_interval=None, restore_best_policy=False) -> RlResult:
    from rlframe.placement.protocol import evaluate

    ck = load_checkpoint(checkpoint) if checkpoint else None
    if ck is None and seconds <= 0:
        raise ConfigError("rlframe placement rl: --time 0 needs --checkpoint (zero-shot; 'pretrained' for the "
                          "shipped weights); give --time SECONDS to train from scratch")
    state = ck["state_dict"] if ck else None
    if ck and seconds > 0:   # the first best-of-N at warm_temperature, then fine-tuning at prior_temperature
        state = temper(ck["policy"], state, warm_temperature)
    tr = PolicyTrainer(ck["policy"] if ck else policy, ck["model_kwargs"] if ck else None, state, reward,
                       batch_T, batch_B, {**PPO_KWARGS, **(algo_kwargs or {})}, seed=seed, env_kwargs=env_kwargs)
    tr.env_steps = int(ck.get("env_steps", 0)) if ck else 0
    tr.elite_size = imitate_top if imitate else 0
    train = seconds > 0
    tr.use(netlist, plc, train=train)
    tr.started, tr.steps_origin = t0, tr.env_steps   # history: since this call, without pre-training's steps
    try:
        zero_shot = tr.evaluate() if ck else None
        warm = 0.0   # the prior's best-of-N, before PPO (fine-tuning from a checkpoint)
        if train and ck and samples and sample_share > 0:
            w0 = time.perf_counter()
            tr.sample(episodes=samples, seconds=seconds * sample_share, envs=sample_envs)
            warm = time.perf_counter() - w0
        if train and ck and warm_temperature != prior_temperature:
            tr.agent.model.load_state_dict(temper(ck["policy"], ck["state_dict"], prior_temperature))
        train_until = seconds * (1.0 - sample_share) + warm
        kept = BestWeights() if train and restore_best_policy else None
        if kept is not None:   # PPO's starting point: the checkpoint's deterministic placement (same argmax)
            kept.offer(zero_shot, tr.agent.model)
        restored = None
        last, since_eval, imitated = 0.0, 0, [0, time.perf_counter()]   # [elite_changes, clock] of the last

        def imitate_new_best() -> None:   # self-imitation on the elite (the best if k = 1), once per change
            due = imitate_interval is not None and time.perf_counter() - imitated[1] >= imitate_interval
            if imitate and tr.elite and (tr.elite_changes != imitated[0] or due):
                tr.imitate(tr.elite, imitate)
                imitated[:] = [tr.elite_changes, time.perf_counter()]

        while train:  # at least one iteration, then while the next one fits in the budget
            t_it = time.perf_counter()
            imitate_new_best()
            tr.iterate()
            since_eval += 1
            if since_eval >= eval_every:
                tr.evaluate()
                since_eval = 0
                if kept is not None:
                    kept.offer(tr.last_deterministic, tr.agent.model)
            last = time.perf_counter() - t_it
            if on_iteration is not None:
                on_iteration(tr, time.perf_counter() - t0)
            if time.perf_counter() - t0 + last >= train_until:
                break
        if train and since_eval:   # the last PPO iteration's deterministic placement
            tr.evaluate()
        if kept is not None:
            restored = kept.restore(tr.last_deterministic, tr.agent.model)
        if train and sample_share > 0 and imitate:   # rounds of sampling, imitating each new best
            while time.perf_counter() - t0 < seconds:
                imitate_new_best()
                tr.sample(episodes=sample_envs, seconds=max(0.0, seconds - (time.perf_counter() - t0)),
                          envs=sample_envs, temperature=sample_temperature)
        elif train and sample_share > 0:
            tr.sample(seconds=max(0.0, seconds - (time.perf_counter() - t0)), envs=sample_envs,
                      temperature=sample_temperature)
        elif not train and samples:
            tr.sample(episodes=samples, envs=sample_envs)
    finally:
        tr.close()
    if tr.best is None:
        raise RuntimeError(f"rlframe placement rl: the policy dead-ended on every evaluation of {netlist}; "
                           "train longer (--time) or check `rlframe placement info`")
    tr.replay(tr.best).placement().write(out)
    elapsed = time.perf_counter() - t0
    if save_checkpoint:
        trained_on: List[str] = list(ck.get("trained_on", [])) if ck else []
        torch.save(tr.checkpoint(trained_on + [str(netlist)], elapsed + (ck.get("seconds", 0.0) if ck else 0.0)),
                   save_checkpoint)
    costs = evaluate(netlist, out, fd=fd).costs
    return RlResult(out=out, costs=dict(costs), seconds=elapsed, env_steps=tr.env_steps,
                    evaluations=tr.evaluations, checkpoint=save_checkpoint, source=tr.best.source,
                    sampled=tr.sampled, zero_shot_cost=zero_shot, history=list(tr.history), restored_cost=restored)
