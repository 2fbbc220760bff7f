"""``MacroPlacementEnv``: Circuit Training's macro placement as a gymnasium env.

Mirhoseini et al., *A graph placement methodology for fast chip design* (Nature 2021; open as
Circuit Training): one hard macro per step, largest area first; the action is the grid cell where
the macro's centre goes; an action mask marks the cells where it fits (inside the canvas, no
overlap with macros placed before, fixed macros or blockages); after the last macro the soft
macros (standard-cell clusters) are placed by force-directed placement and the episode's only
reward is ``-(wirelength + 0.5 density + 0.5 congestion)`` (weights configurable). MaskPlace
(Lai et al., NeurIPS 2022) adds a dense reward (``-ΔHPWL`` per step) and image observations.

    import gymnasium, rlframe.placement
    env = gymnasium.make("rlframe/MacroPlacement-v0", design="ariane133")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.unwrapped.action_masks().argmax())

Spaces:

* action: ``Discrete(cols * rows)``, cell index ``row * cols + col`` (row 0 at the bottom);
* observation: ``Dict`` with ``action_mask`` (int8 ``[cols * rows]``, 1 = feasible) plus, for
  ``observation="image"``, ``image`` and ``macro``; for ``"graph"``, ``node_features``,
  ``edge_index``, ``edge_weight``, ``current_node``; ``"both"``: all of them
  (see :mod:`rlframe.placement.env.observations`).

Episode end: ``terminated`` after the last macro (final costs in ``info``; 0 before and in
episodes that end otherwise) or at a dead end (the next macro fits nowhere: ``info["dead_end"]``,
reward ``dead_end_reward``, plus the step's dense reward in ``"hpwl"`` mode). An infeasible action
raises :class:`InfeasibleActionError` (``infeasible_action="error"``) or costs
``infeasible_penalty`` and leaves the state unchanged (``"penalty"``; the episode is truncated
after ``max_episode_steps``, default ``4 * macros``).
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import gymnasium as gym
import numpy as np

from rlframe.envs.base import EPISODE_METRICS_KEY
from rlframe.errors import ConfigError, InfeasibleActionError
from rlframe.placement.cost import term_weights, top_fraction_mean
from rlframe.placement.designs import list_designs, resolve_plc
from rlframe.placement.env.observations import GraphObservation, ImageObservation, soft_macro_density
from rlframe.placement.formats.plc import Placement, make_placement
from rlframe.placement.protocol import check_regime
from rlframe.placement.state import (
    COST_KEYS, Finisher, PlacementProblem, PlacementState, plc_header)

REWARDS = ("proxy", "hpwl", "mix")
OBSERVATIONS = ("image", "graph", "both")


class MacroPlacementEnv(gym.Env):
    """Sequential hard-macro placement (Circuit Training / MaskPlace); see the module docstring.

    Args:
        design: a shipped design name (``rlframe.placement.list_designs()``); or
        netlist: a netlist path (exactly one of ``design`` / ``netlist``).
        plc: initial ``.plc`` (canvas, grid, routing settings, blockages, fixed flags, initial
            soft-macro and port positions); default: the design's ``initial.plc`` if it has one.
        grid: ``(cols, rows)`` overriding the .plc's grid.
        canvas: ``(width, height)`` (microns) overriding the .plc's / netlist's canvas. A netlist
            without a .plc must get its canvas (``# FP bbox`` line or ``canvas=``) and grid
            (``grid=``) from somewhere: the env raises :class:`ConfigError` rather than guess.
        reward: ``"proxy"`` (sparse: ``-proxy cost`` at the end, 0 before) or ``"hpwl"`` (dense:
            ``-ΔHPWL / hpwl_reward_norm`` per step, where the HPWL counts the nets' placed nodes;
            the rewards of an episode sum to ``-(final - initial placed HPWL) / hpwl_reward_norm``;
            the final proxy cost is still in ``info``); or ``"mix"``: the dense reward at every step
            plus ``-mix_proxy_weight * proxy cost`` at the end.
        cost_weights: proxy-cost weights, one per registered cost term in order (``(wirelength,
            density, congestion)``, rlframe/placement/cost.py) or a mapping by term name; default 1 / 0.5 / 0.5.
        observation: ``"image"``, ``"graph"`` or ``"both"``.
        next_macro_planes: add MaskPlace's look-ahead planes to the image (the next macro's position and
            wire masks: ``image`` ``[5, rows, cols]`` instead of ``[3, rows, cols]``; see observations.py).
        soft_macro_canvas: the image's canvas plane also shows the soft macros at their initial ``.plc``
            positions (same shape: checkpoints trained without it load; meant for ``fd="none"``/``"refine"``,
            where they stay near there; observations.py).
        wire_mask_density: weight ``λ`` of the density under the macro in the image's wire mask plane (the
            area already covered in the cells it would occupy, soft macros at their initial positions included,
            next to the HPWL increase; same shape; observations.py). 0 (default): MaskPlace's wire mask.
        density_reward: weight ``c`` of a dense density term added to every step's reward:
            ``-c * (D_after - D_before)``, where ``D`` is the proxy cost's density term (``0.5 *`` mean of the
            top 10 % cells, rlframe/placement/cost.py) of the hard macros placed so far, fixed macros,
            blockages and the soft macros at their initial positions. An episode's terms sum to
            ``-c * (D_end - D_start)``; with ``fd="none"`` ``D_end`` is the final density cost, so the return
            weighs density by ``w_density + c`` instead of ``w_density``. 0 (default): off.
        wirelength_reward: weight ``c`` of a dense wirelength term added to every step's reward: ``-c *`` the
            step's increase of the placed-net HPWL in the proxy cost's wirelength units (``/ ((W + H) * sum of
            net weights)``, rlframe/placement/cost.py). Once every macro is placed the placed-net HPWL is the
            HPWL with the soft macros at their initial positions, so with ``fd="none"`` an episode's terms sum
            to about ``-c * (wirelength cost - the start's)`` (0.3 % apart on ariane133). 0 (default): off.
        infeasible_action: ``"error"`` or ``"penalty"``.
        infeasible_penalty: reward of an infeasible action in ``"penalty"`` mode.
        dead_end_reward: reward when the next macro fits nowhere (episode ends; Circuit
            Training uses -1, the default -2 is below any sensible proxy cost's negative).
        run_fd: place soft macros by force-directed placement before the final cost (else they
            stay at their initial positions).
        fd_schedule: :class:`~rlframe.placement.force_directed.FDSchedule` override.
        fd: the soft-macro regime of the final cost, as in the evaluation protocol
            (rlframe/placement/protocol.py): ``"centre"`` (FD from the canvas centre), ``"refine"`` (FD
            from the soft macros' initial ``.plc`` positions, kept only if it lowers the proxy cost) or
            ``"none"`` (the soft macros at their initial ``.plc`` positions: no FD, the cheapest; the
            cost that ``rlframe placement sa`` searches on). None (default): ``"centre"`` when
            ``run_fd``, else ``"none"`` (``run_fd=False`` with ``"centre"``/``"refine"`` is an error).
        hpwl_reward_norm: divisor of the dense reward; default ``(W + H) * (mean over movable
            macros of the total weight of their nets)``, so one step's reward is about minus
            the mean span increase of the macro's nets relative to the canvas half-perimeter.
        mix_proxy_weight: weight of the final proxy cost in ``reward="mix"``.
        max_episode_steps: truncation limit (matters only in ``"penalty"`` mode).
        render_mode: ``None`` or ``"rgb_array"``.
        render_size: pixels of the longer canvas side in :meth:`render`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4,
                # the logs' placement/ tags and layout image (rlframe.envs.base.EpisodeMetrics)
                EPISODE_METRICS_KEY: "rlframe.placement.env.metrics:PlacementEpisodeMetrics"}

    def __init__(
        self,
        design: Optional[str] = None,
        netlist: Union[str, os.PathLike, None] = None,
        plc: Union[str, os.PathLike, Placement, None] = None,
        grid: Optional[Tuple[int, int]] = None,
        canvas: Optional[Tuple[float, float]] = None,
        reward: str = "proxy",
        cost_weights: Union[None, Sequence[float], Dict[str, float]] = None,
        observation: str = "image",
        next_macro_planes: bool = False,
        soft_macro_canvas: bool = False,
        wire_mask_density: float = 0.0,
        density_reward: float = 0.0,
        wirelength_reward: float = 0.0,
        infeasible_action: str = "error",
        infeasible_penalty: float = -1.0,
        dead_end_reward: float = -2.0,
        run_fd: bool = True,
        fd_schedule: Any = None,
        fd: Optional[str] = None,
        hpwl_reward_norm: Optional[float] = None,
        mix_proxy_weight: float = 1.0,
        max_episode_steps: Optional[int] = None,
        render_mode: Optional[str] = None,
        render_size: int = 512,
    ):
        if (design is None) == (netlist is None):
            raise ConfigError(
                "MacroPlacementEnv: pass exactly one of design= (a shipped design: "
                f"{', '.join(list_designs()[:8])}, ...) or netlist= (a .pb.txt[.gz] path)")
        if reward not in REWARDS:
            raise ConfigError(f"MacroPlacementEnv: reward={reward!r}; choose one of {REWARDS}")
        if observation not in OBSERVATIONS:
            raise ConfigError(
                f"MacroPlacementEnv: observation={observation!r}; choose one of {OBSERVATIONS}")
        if infeasible_action not in ("error", "penalty"):
            raise ConfigError(f"MacroPlacementEnv: infeasible_action={infeasible_action!r}; "
                              "choose 'error' or 'penalty'")
        try:
            cost_weights = term_weights(cost_weights)
        except ConfigError as e:
            raise ConfigError(f"MacroPlacementEnv: cost_weights: {e}") from None
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"MacroPlacementEnv: render_mode={render_mode!r}; only 'rgb_array'")
        source = design if design is not None else netlist
        if isinstance(plc, (str, os.PathLike)):
            plc = resolve_plc(source, plc)       # a path, or a file name in the design's folder
        self.problem = p = PlacementProblem(source, plc=plc, grid=grid, canvas=canvas)
        if p.defaulted:
            need = {"canvas": "canvas=(width, height) (microns)", "grid": "grid=(cols, rows)"}
            raise ConfigError(
                f"MacroPlacementEnv: {p.netlist.path or source} comes with no "
                f"{' and no '.join(p.defaulted)} (no .plc with a header was found beside it or "
                "given, and the netlist has no '# FP bbox' line). Pass plc='path/to/initial.plc' "
                f"(its header gives canvas and grid) or {' and '.join(need[k] for k in p.defaulted)}")
        if p.n_macros == 0:
            raise ConfigError(f"MacroPlacementEnv: netlist {p.netlist.path} has no movable hard "
                              "macro to place")
        dead = p.dead_ends()
        if dead:  # legal (the dead-end reward still teaches nothing), so a warning, not an error
            warnings.warn(f"MacroPlacementEnv: every episode on {p.netlist.path} will dead-end: "
                          + "; ".join(dead) + " (see `rlframe placement info`)", stacklevel=2)
        self.design = design
        self.reward_mode = reward
        self.mix_proxy_weight = float(mix_proxy_weight)
        self.cost_weights = cost_weights
        self.observation_mode = observation
        self.infeasible_action = infeasible_action
        self.infeasible_penalty = float(infeasible_penalty)
        self.dead_end_reward = float(dead_end_reward)
        self.density_reward = float(density_reward)
        if self.density_reward < 0:
            raise ConfigError(f"MacroPlacementEnv: density_reward={density_reward}; give a weight >= 0 (0: off)")
        self._soft_density = soft_macro_density(p)
        self.wirelength_reward = float(wirelength_reward)
        if self.wirelength_reward < 0:
            raise ConfigError(f"MacroPlacementEnv: wirelength_reward={wirelength_reward}; give a weight >= 0 (0: off)")
        net_w = float(p.netlist.net_weight.sum())
        self._wirelength_unit = 1.0 / ((p.grid.width + p.grid.height) * net_w) if net_w > 0 else 0.0
        self._density = 0.0
        if fd is not None:
            check_regime(fd)
            if not run_fd and fd != "none":
                raise ConfigError(f"MacroPlacementEnv: fd={fd!r} places the soft macros by FD but run_fd=False; "
                                  "drop run_fd=False or pass fd='none'")
            run_fd = fd != "none"
        self.fd_regime = fd
        self.finisher = Finisher(p, self.cost_weights, run_fd, fd_schedule)
        if hpwl_reward_norm is None:
            per_macro = np.bincount(np.repeat(np.arange(p.n_macros), np.diff(p.g_ptr)), p.g_w,
                                    p.n_macros)
            hpwl_reward_norm = (p.grid.width + p.grid.height) * max(float(per_macro.mean()), 1e-12)
        self.hpwl_reward_norm = float(hpwl_reward_norm)
        self.max_episode_steps = int(max_episode_steps or 4 * p.n_macros)
        self.render_mode = render_mode
        self.render_size = int(render_size)

        self.state = PlacementState(p)
        self._views = []
        if observation in ("image", "both"):
            self._views.append(ImageObservation(p, next_macro=next_macro_planes, soft_macros=soft_macro_canvas,
                                                wire_density=wire_mask_density))
        if observation in ("graph", "both"):
            self._views.append(GraphObservation(p))
        n_cells = p.grid.n_cells
        spaces: Dict[str, gym.Space] = {"action_mask": gym.spaces.Box(0, 1, (n_cells,), np.int8)}
        for v in self._views:
            spaces.update(v.spaces())
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Discrete(n_cells)
        self._steps = 0
        self._final: Optional[Dict[str, float]] = None
        self._ended = True

    # ----- gymnasium API --------------------------------------------------------------------
    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        self.state.reset()
        self._steps = 0
        self._final = None
        self._ended = False
        if self.density_reward:
            self._density = self.density_term()
        if not self.state.mask().any():
            raise ConfigError(
                f"MacroPlacementEnv: the first macro {self._macro_name()} "
                f"({self.problem.macro_w[0]:g} x {self.problem.macro_h[0]:g}) fits in no cell of "
                f"the {self.problem.grid.cols} x {self.problem.grid.rows} grid on a "
                f"{self.problem.grid.width:g} x {self.problem.grid.height:g} canvas; use a finer "
                "grid= or a larger canvas")
        return self._obs(), self._info()

    def step(self, action):
        if self._ended:
            raise RuntimeError("MacroPlacementEnv.step() after the episode ended; call reset()")
        st, p = self.state, self.problem
        a = int(action)
        n_cells = p.grid.n_cells
        if not 0 <= a < n_cells:
            raise InfeasibleActionError(
                f"action {a} is not a cell index of the {p.grid.cols} x {p.grid.rows} grid "
                f"(0 .. {n_cells - 1})")
        self._steps += 1
        mask = st.mask()
        if not mask[a]:
            if self.infeasible_action == "error":
                r, c = divmod(a, p.grid.cols)
                raise InfeasibleActionError(
                    f"macro {self._macro_name()} (step {st.k + 1} of {p.n_macros}, "
                    f"{p.macro_w[st.k]:g} x {p.macro_h[st.k]:g}) does not fit at cell {a} "
                    f"(row {r}, col {c}): {int(mask.sum())} of {n_cells} cells are feasible. "
                    "Sample from the action mask (obs['action_mask'], env.action_masks()) or "
                    "pass infeasible_action='penalty'")
            truncated = self._steps >= self.max_episode_steps
            self._ended = truncated
            return self._obs(), self.infeasible_penalty, False, truncated, \
                self._info(infeasible=True)
        delta = st.place(a)
        dense = self.reward_mode in ("hpwl", "mix")
        reward = (-delta / self.hpwl_reward_norm if dense else 0.0) + self._dense_terms(delta)
        terminated, dead_end = False, False
        if st.done:
            terminated = True
            fx, fy, self._final = self._finish()
            self._final_xy = (fx, fy)
            if self.reward_mode == "proxy":
                reward = -self._final["proxy_cost"]
            elif self.reward_mode == "mix":
                reward -= self.mix_proxy_weight * self._final["proxy_cost"]
        elif not st.mask().any():
            terminated, dead_end = True, True
            reward = self.dead_end_reward + reward
        truncated = not terminated and self._steps >= self.max_episode_steps
        self._ended = terminated or truncated
        return self._obs(), float(reward), terminated, truncated, self._info(dead_end=dead_end)

    def _finish(self) -> Tuple[np.ndarray, np.ndarray, Dict[str, float]]:
        """Soft macros placed (``fd`` regime) and every cost term of the finished placement."""
        st = self.state
        if self.fd_regime is None:
            return self.finisher.evaluate(st.x, st.y, st.orientation)
        ev = self.finisher.score(st.x, st.y, st.orientation, self.fd_regime)
        return ev.x, ev.y, dict(ev.costs)

    def _dense_terms(self, delta: float) -> float:
        """The opt-in ``density_reward`` and ``wirelength_reward`` terms of a step whose macro raised the
        placed-net HPWL by ``delta``."""
        reward = 0.0
        if self.density_reward:
            before, self._density = self._density, self.density_term()
            reward -= self.density_reward * (self._density - before)
        if self.wirelength_reward:
            reward -= self.wirelength_reward * delta * self._wirelength_unit
        return reward

    def density_term(self) -> float:
        """The proxy cost's density term (``0.5 *`` mean of the top 10 % cells) of the current state with the
        soft macros at their initial positions (what ``density_reward`` differences)."""
        return 0.5 * top_fraction_mean(self.state.occupancy + self._soft_density, 0.1, nonzero_only=True)

    def action_masks(self) -> np.ndarray:
        """Feasible cells of the current macro (bool ``[cols * rows]``; sb3-contrib's
        MaskablePPO convention)."""
        return self.state.mask().copy()

    # ----- observation and info -------------------------------------------------------------
    def _obs(self) -> Dict[str, np.ndarray]:
        obs = {"action_mask": self.state.mask().view(np.int8).copy()}   # bool -> 0/1 bytes
        for v in self._views:
            obs.update(v.build(self.state))
        return obs

    def _info(self, dead_end: bool = False, infeasible: bool = False) -> Dict[str, Any]:
        st = self.state
        info: Dict[str, Any] = {k: 0.0 for k in COST_KEYS}
        if self._final is not None:
            info.update(self._final)
        info.update(placed=int(st.k), placed_hpwl=float(st.placed_hpwl), dead_end=bool(dead_end),
                    infeasible_action=bool(infeasible),
                    action_mask=st.mask().view(np.int8).copy())
        return info

    def _macro_name(self) -> str:
        st = self.state
        if st.done:
            return "(none)"
        return f"{self.problem.netlist.names[st.node]!r} (node {st.node})"

    # ----- results --------------------------------------------------------------------------
    @property
    def final_costs(self) -> Optional[Dict[str, float]]:
        """Cost terms of the last finished episode (None before the last macro is placed)."""
        return None if self._final is None else dict(self._final)

    def placement(self) -> Placement:
        """The current placement as a :class:`Placement` (after the soft-macro placement when
        the episode has finished); write it with ``.write(path)``."""
        st = self.state
        x, y = self._final_xy if self._final is not None else (st.x, st.y)
        return make_placement(self.problem.netlist, x, y, st.orientation,
                              header=plc_header(self.problem, self._final))

    # ----- rendering ------------------------------------------------------------------------
    def render(self) -> Optional[np.ndarray]:
        """An RGB image (``uint8 [H, W, 3]``) of the canvas: grid lines, blockages (grey), soft
        macros (yellow), fixed macros (dark grey), placed hard macros (blue), feasible cells of
        the current macro (light green)."""
        if self.render_mode != "rgb_array":
            return None
        return render_layout(self.problem, self.state, self.render_size,
                             self._final_xy if self._final is not None else None)


def render_layout(problem: PlacementProblem, state: PlacementState, size: int = 512,
                  final_xy: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> np.ndarray:
    """Rasterise a placement state (see :meth:`MacroPlacementEnv.render`)."""
    g = problem.grid
    scale = size / max(g.width, g.height)
    H, W = max(int(round(g.height * scale)), 1), max(int(round(g.width * scale)), 1)
    img = np.full((H, W, 3), 255, np.uint8)

    def fill(x, y, w, h, color, border=None):
        x0 = int(np.clip(np.floor((x - w / 2) * scale), 0, W))
        x1 = int(np.clip(np.ceil((x + w / 2) * scale), 0, W))
        y0 = int(np.clip(np.floor((y - h / 2) * scale), 0, H))
        y1 = int(np.clip(np.ceil((y + h / 2) * scale), 0, H))
        if x1 <= x0 or y1 <= y0:
            return
        r0, r1 = H - y1, H - y0          # image row 0 is the top of the canvas
        img[r0:r1, x0:x1] = color
        if border is not None:
            img[r0, x0:x1] = img[r1 - 1, x0:x1] = border
            img[r0:r1, x0] = img[r0:r1, x1 - 1] = border

    mask = state.mask()
    for cell in np.flatnonzero(mask):
        cx, cy = g.cell_center(int(cell))
        fill(cx, cy, g.cell_width, g.cell_height, (215, 245, 215))
    for c in range(g.cols + 1):
        img[:, min(int(round(c * g.cell_width * scale)), W - 1)] = (225, 225, 225)
    for r in range(g.rows + 1):
        img[H - 1 - min(int(round(r * g.cell_height * scale)), H - 1), :] = (225, 225, 225)
    for b in problem.blockages:
        fill((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1], (160, 160, 160))
    nl = problem.netlist
    x, y = final_xy if final_xy is not None else (state.x, state.y)
    for i in nl.soft_macro_indices:
        fill(x[i], y[i], problem.node_w[i], problem.node_h[i], (240, 210, 60))
    for i in problem.fixed_hard:
        fill(x[i], y[i], problem.node_w[i], problem.node_h[i], (90, 90, 90), (30, 30, 30))
    for k in range(state.k):
        i = problem.order[k]
        fill(x[i], y[i], problem.node_w[i], problem.node_h[i], (70, 110, 220), (20, 40, 120))
    return img
