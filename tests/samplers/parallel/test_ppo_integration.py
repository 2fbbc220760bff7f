"""PPO learns CartPole with every parallel sampler (small budget: well above random play, ~20)."""
from __future__ import annotations

import pytest

from rlframe.agents.pg import CategoricalPgAgent
from rlframe.algos.pg.ppo import PPO
from rlframe.envs.gym import GymEnv
from rlframe.runners.minibatch_rl import MinibatchRlEval
from tests.samplers.parallel.conftest import SAMPLERS, worker_processes


@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_ppo_learns_cartpole(kind, tmp_path):
    from rlframe.logging.logger import logger_context

    sampler = SAMPLERS[kind](GymEnv, dict(id="CartPole-v1"), batch_T=32, batch_B=8, max_decorrelation_steps=0,
                             eval_n_envs=4, eval_max_trajectories=4, eval_max_steps=2000, n_workers=2,
                             start_method="fork")
    algo = PPO(discount=0.98, gae_lambda=0.8, learning_rate=1e-3, epochs=20, minibatches=1)
    runner = MinibatchRlEval(algo, CategoricalPgAgent(model_kwargs={"hidden_sizes": [64, 64]}), sampler,
                             n_steps=8_000, seed=1, log_interval_steps=8_000)
    with logger_context(str(tmp_path), name="ppo"):
        result = runner.train()
    assert result["eval/return_mean"] > 40  # random play: ~22
    assert not worker_processes()
