"""How good the pre-trained policy's samples are at each softmax temperature, in the refine recipe's env
(docs/placement.md, "Session 7"): the deterministic placement, then ``--samples`` placements sampled at each
temperature (``PolicyTrainer.sample(temperature=T)``: the checkpoint's logits divided by T), their min /
quartile / median proxy cost. No training.

    OMP_NUM_THREADS=1 python experiments/benchmarks/placement_sample_temperature.py --design ariane133 \\
        --temperatures 0.5 1 2 4 8 --samples 48 --json results.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

#: the env of the refine recipe measured best in session 6 (placement_ppo.py --regime refine --train-fd refine
#: --wire-density 0.5 --density-reward 0.5 --wirelength-reward 1)
REFINE_ENV = dict(fd="refine", wire_mask_density=0.5, density_reward=0.5, wirelength_reward=1.0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--design", default="ariane133")
    p.add_argument("--checkpoint", default="pretrained")
    p.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 1, 2, 4, 8])
    p.add_argument("--samples", type=int, default=48, help="placements sampled at each temperature")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    import torch
    from rlframe.placement.rl import PolicyTrainer, load_checkpoint
    torch.set_num_threads(1)
    ck = load_checkpoint(a.checkpoint)
    tr = PolicyTrainer(ck["policy"], ck["model_kwargs"], ck["state_dict"], "proxy", seed=a.seed, env_kwargs=REFINE_ENV)
    tr.use(a.design, train=False)
    result = dict(design=a.design, checkpoint=a.checkpoint, env=REFINE_ENV, seed=a.seed,
                  deterministic=tr.evaluate(), rows=[], command=" ".join(sys.argv))
    print(f"deterministic {result['deterministic']:.4f}")
    for t in a.temperatures:
        c0 = time.process_time()
        costs = np.asarray(tr.sample(episodes=a.samples, envs=16, temperature=t))
        row = dict(temperature=t, placements=len(costs), min=float(costs.min()), q25=float(np.quantile(costs, 0.25)),
                   median=float(np.median(costs)), cpu_seconds=time.process_time() - c0)
        result["rows"].append(row)
        print(f"T {t:g}: {len(costs)} placements, min {row['min']:.4f} q25 {row['q25']:.4f} median {row['median']:.4f}",
              flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
