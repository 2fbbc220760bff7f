"""make_affinity plans CPUs and threads; apply_affinity pins where allowed and warns where not."""
from __future__ import annotations

import re
import warnings

import psutil
import pytest
import torch

from rlframe.errors import ConfigError
from rlframe.launching.affinity import apply_affinity, available_cpus, make_affinity, worker_affinity
from tests.helpers import RandomAgent


def test_defaults_use_every_available_cpu():
    aff = make_affinity()
    cpus = available_cpus()
    assert aff["master_cpus"] == cpus and aff["n_workers"] == len(cpus)
    assert sorted(c for w in aff["workers_cpus"] for c in w) == cpus
    assert aff["worker_torch_threads"] == 1 and aff["cuda_idx"] is None


def test_oversubscribed_workers_share_cpus_round_robin():
    aff = make_affinity(n_workers=5, cpus=[0, 1], cpu_per_worker=1)
    assert aff["workers_cpus"] == [[0], [1], [0], [1], [0]]
    aff = make_affinity(n_cpu_core=4, cpus=[0, 1, 2, 3], cpu_per_worker=2, n_gpu=1)
    assert aff["workers_cpus"] == [[0, 1], [2, 3]] and aff["worker_torch_threads"] == 2 and aff["cuda_idx"] == 0


def test_bad_requests_say_what_to_change():
    with pytest.raises(ConfigError, match="n_cpu_core <= 2"):
        make_affinity(n_cpu_core=3, cpus=[0, 1])
    with pytest.raises(ConfigError, match="cpu_per_worker"):
        make_affinity(cpu_per_worker=0)


def test_apply_pins_and_sets_threads():
    proc = psutil.Process()
    old_cpus, old_threads = proc.cpu_affinity(), torch.get_num_threads()
    try:
        assert apply_affinity([old_cpus[0]], 1, who="test")
        assert proc.cpu_affinity() == [old_cpus[0]] and torch.get_num_threads() == 1
    finally:
        proc.cpu_affinity(old_cpus)
        torch.set_num_threads(old_threads)


def test_refused_pinning_warns_and_continues(monkeypatch):
    import rlframe.launching.affinity as mod

    monkeypatch.setattr(mod, "_warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert apply_affinity([10_000], None, who="worker 3") is False
    assert any("could not pin worker 3" in str(w.message) for w in caught)


def test_worker_slice():
    aff = make_affinity(n_workers=2, cpus=[0, 1])
    assert worker_affinity(aff, 1) == {"cpus": [1], "torch_threads": 1, "set_affinity": True}
    assert worker_affinity(None, 0)["set_affinity"] is False


# --- issue 12, defect 9: rlpyt's affinity dict ------------------------------------------------------------
def test_rlpyt_int_per_worker_is_one_cpu_and_bad_entries_are_config_errors():
    from rlframe.launching.affinity import check_affinity, worker_affinity

    rlpyt = dict(cuda_idx=None, workers_cpus=list(range(2)))
    assert check_affinity(rlpyt)["workers_cpus"] == [[0], [1]]
    assert worker_affinity(rlpyt, 1)["cpus"] == [1]
    assert worker_affinity(dict(workers_cpus=[[0, 1], (2,)]), 1)["cpus"] == [2]
    for bad, named in [(dict(workers_cpus=["0"]), "workers_cpus[0] = '0'"),
                       (dict(workers_cpus=[[0], []]), "workers_cpus[1] = []"),
                       (dict(workers_cpus=[-1]), "workers_cpus[0] = -1"),
                       (dict(workers_cpus=3), "workers_cpus = 3"),
                       ("0slt_2cpu", "affinity must be a dict")]:
        with pytest.raises(ConfigError, match=re.escape(named)):
            check_affinity(bad)


@pytest.mark.parametrize("kind", ["cpu", "gpu", "alternating"])
def test_parallel_samplers_accept_rlpyt_affinity(kind):
    from tests.samplers.parallel.conftest import make_sampler

    s = make_sampler(kind, "fork", B=2, T=3, n_workers=None)
    try:
        s.initialize(RandomAgent(), affinity=dict(cuda_idx=None, workers_cpus=list(range(2))), seed=0)
        assert s.n_workers == 2
        samples, _ = s.obtain_samples(0)
        assert samples.env.reward.shape[:2] == (3, 2)
    finally:
        s.shutdown()


def test_parallel_sampler_refuses_a_bad_affinity_before_workers_start():
    from tests.samplers.parallel.conftest import make_sampler, worker_processes

    s = make_sampler("cpu", "fork", B=2, T=3, n_workers=None)
    with pytest.raises(ConfigError, match="workers_cpus"):
        s.initialize(RandomAgent(), affinity=dict(workers_cpus=[[0], "x"]), seed=0)
    s.shutdown()
    assert not worker_processes()


def test_logger_context_takes_rlpyts_call_form(tmp_path):
    from rlframe.logging import logger_context

    config = {"algo": {"lr": 1e-3}}
    with logger_context(str(tmp_path), 7, "example_3", config, use_summary_writer=False) as logger:
        assert logger.run_dir.endswith("example_3/run_7") and logger.params == config
    with logger_context(str(tmp_path), 8, "example_3", log_params=config, snapshot_mode="last") as logger:
        assert logger.params == config
