"""Multi-layer perceptron and the initialisation helpers every rlframe model uses."""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Type

import torch
from torch import nn

from rlframe.core.grad_mode import no_grad
from rlframe.models.mlp_function import mlp_forward

# nonlinearity classes that rlframe.models.mlp_function writes out, by its names for them
_ACTIVATION_NAMES = {nn.ReLU: "relu", nn.Tanh: "tanh"}


def orthogonal_init(module: nn.Module, gain: float = math.sqrt(2.0)) -> nn.Module:
    """Orthogonal weights (Saxe et al. 2014) with ``gain`` and zero biases on every Linear/Conv layer,
    the initialisation of OpenAI baselines' and SB3's PPO (Andrychowicz et al. 2021 show it matters)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def init_linear_(weight: torch.Tensor, bias: torch.Tensor, gain: Optional[float]) -> None:
    """Initialise one linear layer in place: ``weight`` is ``[out, in]`` (may be a view), ``bias`` ``[out]``.

    ``gain`` given: orthogonal weights with that gain and zero bias (as :func:`orthogonal_init`);
    ``None``: torch's default ``nn.Linear`` initialisation (Kaiming-uniform weights with ``a=sqrt(5)``,
    biases uniform in +-1/sqrt(in)), which is what SB3 keeps with ``ortho_init=False``.
    """
    with torch.no_grad():
        if gain is None:
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
            bound = 1.0 / math.sqrt(weight.shape[1]) if weight.shape[1] > 0 else 0.0
            nn.init.uniform_(bias, -bound, bound)
        else:
            nn.init.orthogonal_(weight, gain=gain)
            nn.init.zeros_(bias)


class MlpModel(nn.Module):
    """Linear layers with a nonlinearity between them; acts on the last dim (any leading dims).

    Args:
        input_size: size of the input's last dim.
        hidden_sizes: sizes of the hidden layers (may be empty).
        output_size: size of a final linear layer without nonlinearity; None leaves it out
            (the output is then the last hidden layer, after its nonlinearity).
        nonlinearity: module class applied after each hidden layer.
        compute_dtype: mixed precision, opt-in: the hidden layers multiply in this dtype (``torch.bfloat16``),
            weights, output layer and gradients stay fp32 (:func:`rlframe.models.mlp_function.mlp_forward`, the
            MLP as one autograd node). Needs an ``output_size``, ReLU or Tanh, 2-D inputs (else the plain
            layers run). None (default): the plain fp32 layers under autograd.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int] = (64, 64),
        output_size: Optional[int] = None,
        nonlinearity: Type[nn.Module] = nn.Tanh,
        compute_dtype: Optional[torch.dtype] = None,
    ):
        super().__init__()
        layers = []
        last = int(input_size)
        for h in hidden_sizes or ():
            # ReLU in place: it overwrites the fresh output of the Linear before it (same maths, one allocation less)
            layers += [nn.Linear(last, int(h)), nn.ReLU(inplace=True) if nonlinearity is nn.ReLU else nonlinearity()]
            last = int(h)
        if output_size is not None:
            layers.append(nn.Linear(last, int(output_size)))
            last = int(output_size)
        self.model = nn.Sequential(*layers)
        self.input_size = int(input_size)
        self._output_size = last
        activation = _ACTIVATION_NAMES.get(nonlinearity)
        self.compute_dtype = compute_dtype
        self._mixed = activation if compute_dtype is not None and output_size is not None and activation else None

    @property
    def output_size(self) -> int:
        return self._output_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._mixed is not None and x.dim() == 2:
            params = [t for layer in self.model if isinstance(layer, nn.Linear) for t in (layer.weight, layer.bias)]
            return mlp_forward(x, params, self._mixed, self.compute_dtype)
        return self.model(x)


class TwinMlpModel(nn.Module):
    """``k`` MLPs with the same layer sizes on the same input, evaluated together with batched matmuls.

    Separate actor and critic trunks (PPO's usual set-up) cost two small matmuls per layer plus
    per-module Python overhead; stacking their weights as ``[k, in, out]`` turns each layer into one
    ``baddbmm`` and halves the autograd graph, which matters when the networks are tiny (CartPole's
    64x64) and the run time is dominated by per-op overhead. Mathematically identical to ``k``
    independent :class:`MlpModel`\\ s (each slice is initialised on its own: orthogonal with the given gains,
    zero biases; or, ``ortho_init=False``, torch's default ``nn.Linear`` initialisation, see :func:`init_linear_`).

    ``forward(x [N, in]) -> [k, N, out]``; ``forward_one(x, i)`` evaluates MLP ``i`` alone.
    The final layer (``output_sizes``) may differ per MLP: it is stored padded to the largest size, the
    padding columns start at zero and, never used, get zero gradients and stay zero.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int],
        output_sizes: Optional[Sequence[int]] = None,
        nonlinearity: Type[nn.Module] = nn.Tanh,
        hidden_gain: float = math.sqrt(2.0),
        output_gains: Optional[Sequence[float]] = None,
        k: int = 2,
        ortho_init: bool = True,
    ):
        super().__init__()
        self.k = int(k)
        self.input_size = int(input_size)
        self.nonlinearity = nonlinearity()
        # torch.tanh itself skips a module call per layer (the usual PPO nonlinearity).
        self._act = torch.tanh if nonlinearity is nn.Tanh else self.nonlinearity
        # The activation in place, for forward_saving's fresh layer outputs (None: not written out).
        self._act_ = {nn.Tanh: torch.tanh_, nn.ReLU: torch.relu_}.get(nonlinearity)
        # g * d act / d input from the activation's output y and g, for backward_into (None: not supported), and
        # the same overwriting g (a buffer of backward_into's own), with a scratch buffer of g's shape.
        self._act_grad = {nn.Tanh: _tanh_grad, nn.ReLU: _relu_grad}.get(nonlinearity)
        self._act_grad_ = {nn.Tanh: _tanh_grad_, nn.ReLU: _relu_grad_}.get(nonlinearity)
        sizes = [self.input_size] + [int(h) for h in hidden_sizes]
        self.n_hidden = len(sizes) - 1
        self.output_sizes = None if output_sizes is None else [int(s) for s in output_sizes]
        layers = []
        for i, o in zip(sizes[:-1], sizes[1:]):
            w, b = torch.empty(self.k, i, o), torch.empty(self.k, 1, o)
            for j in range(self.k):  # w[j].T is nn.Linear(i, o).weight's layout
                init_linear_(w[j].T, b[j, 0], hidden_gain if ortho_init else None)
            layers.append((w, b))
        if self.output_sizes is not None:
            if len(self.output_sizes) != self.k:
                raise ValueError(f"TwinMlpModel: {self.k} MLPs need {self.k} output sizes, got {self.output_sizes}.")
            gains = list(output_gains) if output_gains is not None else [1.0] * self.k
            o = max(self.output_sizes)
            w, b = torch.zeros(self.k, sizes[-1], o), torch.zeros(self.k, 1, o)
            for j, (oj, g) in enumerate(zip(self.output_sizes, gains)):
                init_linear_(w[j, :, :oj].T, b[j, 0, :oj], g if ortho_init else None)
            layers.append((w, b))
        # Plain registered parameters (weight_<n> [k, in, out], bias_<n> [k, 1, out]); forward reads them
        # from self._parameters (a dict lookup, always current) rather than through a ParameterList.
        self._names = []
        self._workspace = {}  # forward_saving(reuse=True) and backward_into's kept buffers (_buffer)
        for n, (w, b) in enumerate(layers):
            self.register_parameter(f"weight_{n}", nn.Parameter(w))
            self.register_parameter(f"bias_{n}", nn.Parameter(b))
            self._names.append((f"weight_{n}", f"bias_{n}"))
        self.output_size = max(self.output_sizes) if self.output_sizes is not None else sizes[-1]

    @property
    def weights(self) -> List[nn.Parameter]:
        return [self._parameters[w] for w, _ in self._names]

    @property
    def biases(self) -> List[nn.Parameter]:
        return [self._parameters[b] for _, b in self._names]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = self._parameters
        act = self._act
        h = x.expand(self.k, *x.shape)  # a leading [k] dim of stride 0 (a view)
        n_act = self.n_hidden if self.output_sizes is not None else len(self._names)
        for n, (w, b) in enumerate(self._names):
            h = torch.baddbmm(params[b], h, params[w])
            if n < n_act:
                h = act(h)
        return h

    @property
    def supports_backward_into(self) -> bool:
        """True when :meth:`backward_into` can differentiate this network (tanh or ReLU nonlinearity)."""
        return self._act_grad is not None

    @no_grad
    def forward_saving(self, x: torch.Tensor, reuse: bool = False):
        """``(forward(x), saved)`` without recording an autograd graph; ``saved`` (the input, as the ``[k, N, in]``
        view every MLP reads, and every layer's output after its nonlinearity) is what :meth:`backward_into` needs.
        The nonlinearity runs in place on each layer's fresh output (same values, one ``[k, N, out]`` allocation
        less per layer). ``reuse``: the hidden layers' outputs go into buffers kept between calls (:meth:`_buffer`),
        so ``saved`` is only valid until the next ``reuse`` call (a forward-then-backward loop such as PPO's
        closed-form steps): no large allocation per call (the malloc/free of a few ``[k, N, 64]`` tensors per
        step made glibc return and re-fault heap pages, ~30 page faults per PPO minibatch). The returned output
        (last layer) is always a new tensor."""
        params = self._parameters
        act = self._act_ or self._act
        n_act = self.n_hidden if self.output_sizes is not None else len(self._names)
        last = len(self._names) - 1
        h = x.expand(self.k, *x.shape)  # a leading [k] dim of stride 0 (a view)
        saved = [h]
        for n, (w, b) in enumerate(self._names):
            if reuse and n < last:
                h = torch.baddbmm(params[b], h, params[w], out=self._buffer("h", n, h, params[w]))
            else:
                h = torch.baddbmm(params[b], h, params[w])
            if n < n_act:
                h = act(h)
            saved.append(h)
        return h, saved

    def _buffer(self, name: str, layer: int, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """The buffer ``name`` of layer ``layer`` for ``bmm(a [k, N, in], w [k, in, out])`` (``[k, N, out]``), kept
        between calls per ``N`` (a normal tensor even when made in inference mode). Moving or casting the model
        (``_apply``) drops them; a few ``N`` are kept at most."""
        key = (name, layer, a.shape[1])
        buf = self._workspace.get(key)
        if buf is None:
            if len(self._workspace) >= 48:  # e.g. ever-changing batch sizes: start over
                self._workspace.clear()
            with torch.inference_mode(False):
                buf = self._workspace[key] = torch.empty((a.shape[0], a.shape[1], w.shape[2]), dtype=w.dtype,
                                                         device=w.device)
        return buf

    def _apply(self, fn, *args, **kwargs):
        self._workspace = {}  # device or dtype may change: buffers are made again on first use
        return super()._apply(fn, *args, **kwargs)

    def __getstate__(self):
        state = dict(super().__getstate__())
        state["_workspace"] = {}  # scratch memory, not state: not pickled
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("_workspace", {})

    @no_grad
    def backward_into(self, saved, grad_output: torch.Tensor) -> None:
        """Set every parameter's ``.grad`` to ``d L / d param`` given ``grad_output = d L / d forward(x)``
        (``[k, N, out]``) and :meth:`forward_saving`'s ``saved``: the same gradients autograd would compute
        (backpropagation written out: ``dW = h_in^T g``, ``db = sum_N g``, ``g_in = g W^T * act'``), without
        building or walking a graph. Gradients are overwritten, not accumulated: written into the existing
        ``.grad`` tensors when they fit (e.g. views of one flat buffer, ``rlframe/algos/optim.py``'s
        ``FlatGradients``), else set to new tensors."""
        params = self._parameters
        n_act = self.n_hidden if self.output_sizes is not None else len(self._names)
        g = grad_output
        if n_act == len(self._names):  # the last layer has a nonlinearity too
            g = self._act_grad(saved[-1], g)
        in_place = self._grads_writable()
        for n in range(len(self._names) - 1, -1, -1):
            w_name, b_name = self._names[n]
            w, b = params[w_name], params[b_name]
            h_in = saved[n]
            if in_place:
                torch.bmm(h_in.transpose(1, 2), g, out=w.grad)
                torch.sum(g, 1, keepdim=True, out=b.grad)
            else:
                w.grad = torch.bmm(h_in.transpose(1, 2), g)
                b.grad = g.sum(1, keepdim=True)
            if n > 0:  # into a kept buffer (see forward_saving), where the activation gradient is computed in place
                w_t = w.transpose(1, 2)
                g_in = torch.bmm(g, w_t, out=self._buffer("g", n, g, w_t))
                if self._act_grad_ is not None:
                    g = self._act_grad_(h_in, g_in, self._buffer("scratch", n, g, w_t))
                else:
                    g = self._act_grad(h_in, g_in)

    def _grads_writable(self) -> bool:
        """True when every parameter's ``.grad`` can take its gradient in place (:func:`writable_grad`); the
        answer is remembered for the same ``.grad`` tensors, so the checks run once, not at every step."""
        grads = [p.grad for p in self._parameters.values()]
        known = getattr(self, "_writable_grads", None)
        if known is not None and len(known) == len(grads) and all(a is b for a, b in zip(grads, known)):
            return True
        if all(writable_grad(p) for p in self._parameters.values()):
            self._writable_grads = grads
            return True
        return False

    def forward_one(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """MLP ``i`` alone on ``x [N, in]`` (output padded like :meth:`forward`)."""
        params = self._parameters
        n_act = self.n_hidden if self.output_sizes is not None else len(self._names)
        h = x
        for n, (w, b) in enumerate(self._names):
            h = torch.addmm(params[b][i], h, params[w][i])
            if n < n_act:
                h = self._act(h)
        return h


def writable_grad(p: torch.Tensor) -> bool:
    """True when ``p.grad`` exists and a gradient of ``p`` can be written into it in place (same shape, dtype and
    device as ``p``, contiguous)."""
    g = p.grad
    return g is not None and g.shape == p.shape and g.dtype == p.dtype and g.device == p.device and g.is_contiguous()


def _tanh_grad(y: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``g * tanh'(x)`` from the output ``y = tanh(x)``: ``g (1 - y^2)``."""
    return torch.addcmul(g, g * y, y, value=-1.0)


def _relu_grad(y: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``g * relu'(x)`` from the output ``y = relu(x)``: ``g`` where ``y > 0``, else 0 (autograd's convention at 0)."""
    return g * (y > 0)


def _tanh_grad_(y: torch.Tensor, g: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
    """:func:`_tanh_grad` written into ``g`` (the same values), its temporary ``g y`` into ``scratch`` (``g``'s shape)."""
    return g.addcmul_(torch.mul(g, y, out=scratch), y, value=-1.0)


def _relu_grad_(y: torch.Tensor, g: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
    """:func:`_relu_grad` written into ``g`` (the same values; no temporary of ``g``'s size, ``scratch`` unused)."""
    return g.mul_(y > 0)
