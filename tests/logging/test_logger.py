"""RunLogger: run directory layout, params.json, progress.csv columns, TensorBoard scalars/hparams, resume."""
import csv
import json
import math
import os

import numpy as np
import pytest

from rlframe.envs.base import EpisodeMetrics
from rlframe.errors import CheckpointError, ConfigError
from rlframe.logging import RunLogger, get_logger, logger_context
from rlframe.logging.metrics import opt_stats, traj_stats
from rlframe.logging.progress import CsvProgress, console_line
from rlframe.logging.serialize import flatten, to_jsonable
from rlframe.samplers.base import TrajInfo


def test_to_jsonable_handles_classes_numpy_and_nesting():
    out = to_jsonable({"cls": TrajInfo, "a": np.float32(0.5), "arr": np.arange(3), "t": (1, 2),
                       "nested": {"x": np.int64(4), "f": float("inf")}, "obj": object()})
    json.dumps(out)
    assert out["cls"] == "rlframe.samplers.base.TrajInfo" and out["a"] == 0.5 and out["arr"] == [0, 1, 2]
    assert out["nested"] == {"x": 4, "f": "inf"} and out["t"] == [1, 2]
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a/b": 1, "a/c": "[1, 2]", "d": "None"}


def test_traj_stats_means_extra_fields_and_calls_the_env_hook():
    t1, t2 = TrajInfo(), TrajInfo()
    t1.Return, t1.Length, t1.cost, t1.other = 1.0, 10, 0.8, 1.0
    t2.Return, t2.Length, t2.cost, t2.other = 3.0, 20, 1.0, float("nan")
    s = traj_stats([t1, t2], "rollout")
    assert s["rollout/return_mean"] == 2.0 and s["rollout/length_mean"] == 15.0
    assert s["rollout/cost"] == pytest.approx(0.9) and s["rollout/other"] == 1.0  # NaN left out
    assert "rollout/Terminated" not in s
    assert traj_stats([t1], "eval")["eval/cost"] == 0.8
    assert traj_stats([], "rollout") == {}

    class Regroup(EpisodeMetrics):
        def scalars(self, episodes, group, stats):
            return {**stats, "mine/n": float(len(episodes))}

    h = traj_stats([t1, t2], "eval", Regroup())
    assert h["mine/n"] == 2.0 and h["eval/cost"] == pytest.approx(0.9)


def test_opt_stats_means_lists_and_skips_empty():
    from collections import namedtuple

    Info = namedtuple("Info", ["policy_loss", "value_loss", "empty"])
    s = opt_stats([Info([1.0, 3.0], [2.0], []), Info([5.0], 4.0, [])])
    assert s == {"train/policy_loss": 3.0, "train/value_loss": 3.0}


def test_csv_grows_columns_and_truncates(tmp_path):
    path = str(tmp_path / "progress.csv")
    c = CsvProgress(path)
    c.write({"time/env_steps": 10, "a": 1.0})
    c.write({"time/env_steps": 20, "a": 2.0, "b": float("nan")})
    c.write({"time/env_steps": 30, "b": 3.0})
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0].keys()) == ["time/env_steps", "a", "b"]
    assert [r["b"] for r in rows] == ["", "", "3.0"]
    assert CsvProgress(path).truncate_after("time/env_steps", 20) == 1
    assert len(list(csv.DictReader(open(path)))) == 2


def test_console_line_has_steps_sps_return_elapsed_eta():
    line = console_line({"time/env_steps": 5000, "time/sps": 1234.0, "rollout/return_mean": 99.5,
                         "time/elapsed_s": 65.0, "time/itr": 3}, n_steps=10000, eta_s=30)
    for part in ["5,000/10,000", "50.0%", "SPS", "1,234", "99.50", "0:01:05", "ETA 0:00:30"]:
        assert part in line


def test_logger_context_layout_and_refuses_to_overwrite(tmp_path):
    with logger_context(str(tmp_path), name="exp", params={"seed": 1}) as logger:
        assert get_logger() is logger
        logger.log({"time/env_steps": 8, "x": 1.0, "y": float("nan")}, step=8)
        logger.save_checkpoint({"itr": 0, "env_steps": 8}, itr=0)
    assert get_logger() is None
    assert logger.run_dir == os.path.join(str(tmp_path), "exp", "run_0")
    names = os.listdir(logger.run_dir)
    assert "params.json" in names and "progress.csv" in names and "checkpoints" in names
    assert any(n.startswith("events.out.tfevents") for n in names)
    with logger_context(str(tmp_path), name="exp") as second:
        pass
    assert second.run_dir.endswith("run_1")
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        RunLogger(logger.run_dir)
    resumed = RunLogger(logger.run_dir, resume=True)
    assert resumed.resume_state["env_steps"] == 8 and resumed.params["seed"] == 1
    resumed.close()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        RunLogger(second.run_dir, resume=True)


def test_hparams_and_scalars_in_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with logger_context(str(tmp_path), params={"algo": {"lr": 1e-3, "epochs": 20}, "env": "CartPole-v1"}) as lg:
        lg.log({"rollout/return_mean": 10.0, "time/env_steps": 256.0, "bad": float("nan")}, step=256)
        lg.add_image("placement/layout", np.zeros((8, 8, 3), np.uint8), step=256)
    acc = EventAccumulator(lg.run_dir)
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("rollout/return_mean")] == [(256, 10.0)]
    assert "bad" not in acc.Tags()["scalars"]
    assert "placement/layout" in acc.Tags()["images"]
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = acc.PluginTagToContent("hparams")
    assert content, "no hparams summary written"
    data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    assert data.session_start_info.hparams["algo/lr"].number_value == pytest.approx(1e-3)
    assert data.session_start_info.hparams["env"].string_value == "CartPole-v1"
    assert not math.isnan(acc.Scalars("rollout/return_mean")[0].value)
