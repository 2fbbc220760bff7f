from setuptools import find_packages, setup

setup(
    name="rlframe",
    version="0.1.0",
    description="Parallel reinforcement learning for PyTorch in the style of rlpyt, with chip macro placement",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["rlframe", "rlframe.*"]),
    package_data={"rlframe.placement": ["data/*", "data/*/*", "data/*/*/*"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=["torch", "numpy", "psutil", "gymnasium>=1.0", "tensorboard"],
    extras_require={
        # numba in test: CI checks the compiled placement loops against the numpy ones they replace
        # (sb3: the placement env with a third-party library)
        "test": ["pytest", "pytest-timeout", "stable-baselines3", "numba"],
        # compiled placement loops (force-directed, routing, env state): same results as numpy, ~5-7x less CPU
        "fast": ["numba"],
        "bench": ["stable-baselines3"],
        # open hypergraph partitioner for `rlframe placement cluster` (numpy fallback without it)
        "cluster": ["mtkahypar>=1.5"],
        "atari": ["ale-py"],  # rlframe.envs.atari (ships the ROMs)
        "envpool": ["envpool"],  # rlframe.envs.vector.EnvPoolEnv (Linux wheels, CPython <= 3.12)
        "mujoco": ["mujoco", "imageio"],  # gymnasium's MuJoCo envs (experiments/benchmarks/ppo_mujoco_vs_sb3.py)
    },
    entry_points={"console_scripts": ["rlframe=rlframe.cli:main"]},
)
