"""from_torch: a ``torch.nn.Sequential`` of Linear layers and activations as a micrograd ``nn.MLP``.

Contract:
- Accepted: ``Linear`` layers, each followed by at most one of ``ReLU``,
  ``Tanh``, ``Sigmoid``, ``LeakyReLU`` (its ``negative_slope``), ``PReLU``
  (one slope: the layer shares it, ``prelu='layer'``; one per output: a slope
  per neuron), ``ELU`` (its ``alpha``), ``SELU``; ``Identity`` anywhere is
  skipped. A Linear with no activation after it is a linear micrograd layer
  (so a last bare Linear is micrograd's linear output layer).
- Everything else (another module, an activation with no Linear before it,
  mismatched widths, a Linear with no outputs) is refused with a ValueError naming the layer and its
  index; nothing is built half-way.
- The weights are copied exactly (as float64): ``neuron r`` of layer ``l``
  gets ``w = weight[r, :]``, ``b = bias[r]`` (0 for a Linear without bias; it
  becomes a trainable micrograd parameter), so the MLP computes the module's
  outputs to rounding (1e-12 relative; PyTorch sums in BLAS order).
"""

from __future__ import annotations

import torch

from micrograd import nn

# torch activation class -> (micrograd activation, the keyword arguments it takes from the module)
ACTIVATIONS = {
    torch.nn.ReLU: ("relu", lambda m: {}),
    torch.nn.Tanh: ("tanh", lambda m: {}),
    torch.nn.Sigmoid: ("sigmoid", lambda m: {}),
    torch.nn.LeakyReLU: ("leaky_relu", lambda m: {"negative_slope": float(m.negative_slope)}),
    torch.nn.ELU: ("elu", lambda m: {"alpha": float(m.alpha)}),
    torch.nn.SELU: ("selu", lambda m: {}),
    torch.nn.PReLU: ("prelu", lambda m: {}),
}
SUPPORTED = "Linear, " + ", ".join(c.__name__ for c in ACTIVATIONS) + ", Identity"


def _floats(t: torch.Tensor) -> list:
    return t.detach().to("cpu", torch.float64).tolist()


def _refuse(i: int, layer, why: str):
    raise ValueError(
        f"from_torch: layer {i} ({layer!r}) {why}; micrograd's MLP takes a Sequential of "
        f"Linear layers, each followed by at most one of: {SUPPORTED}"
    )


def _layer(linear: torch.nn.Linear, act: tuple | None) -> nn.Layer:
    """One micrograd Layer with linear's weights and the activation (index, module) act."""
    nout, nin = linear.out_features, linear.in_features
    name, kwargs = "identity", {}
    if act is not None:
        name, options = ACTIVATIONS[type(act[1])]
        kwargs = options(act[1])
    slopes = None
    if name == "prelu":
        slopes = _floats(act[1].weight)
        if len(slopes) not in (1, nout):
            _refuse(act[0], act[1], f"has {len(slopes)} slopes for a Linear of {nout} outputs (use 1 or {nout})")
        kwargs["prelu"] = "layer" if len(slopes) == 1 else "neuron"
    layer = nn.Layer(nin, nout, nonlin=name != "identity", activation=name, rng=0, **kwargs)
    W = _floats(linear.weight)
    b = _floats(linear.bias) if linear.bias is not None else [0.0] * nout
    for r, neuron in enumerate(layer.neurons):
        for w, v in zip(neuron.w, W[r]):
            w.data = v
        neuron.b.data = b[r]
        if neuron.slope is not None:
            neuron.slope.data = slopes[r]
    if layer.slope is not None:
        layer.slope.data = slopes[0]
    return layer


def from_torch(module: torch.nn.Module) -> nn.MLP:
    """The micrograd MLP computing what ``module`` (a Sequential of Linear + activations) computes."""
    if not isinstance(module, torch.nn.Sequential):
        raise ValueError(
            f"from_torch takes a torch.nn.Sequential of {SUPPORTED}; got "
            f"{type(module).__name__} (wrap a single Linear as torch.nn.Sequential(linear))"
        )
    pairs = []  # [(linear, (index, activation) or None)]
    for i, layer in enumerate(module):
        if isinstance(layer, torch.nn.Identity):
            continue
        if type(layer) is torch.nn.Linear:
            if layer.out_features == 0:
                _refuse(i, layer, "has no outputs (out_features=0): a micrograd Layer needs at least one neuron")
            if pairs and pairs[-1][0].out_features != layer.in_features:
                _refuse(
                    i,
                    layer,
                    f"takes {layer.in_features} inputs but the Linear before it gives {pairs[-1][0].out_features}",
                )
            pairs.append([layer, None])
        elif type(layer) in ACTIVATIONS:
            if not pairs:
                _refuse(i, layer, "comes before any Linear")
            if pairs[-1][1] is not None:
                _refuse(i, layer, f"follows another activation (layer {pairs[-1][1][0]})")
            pairs[-1][1] = (i, layer)
        else:
            _refuse(i, layer, "is not supported")
    if not pairs:
        raise ValueError(f"from_torch: the Sequential has no Linear layer; it needs Linear layers ({SUPPORTED})")
    layers = [_layer(lin, act) for lin, act in pairs]
    mlp = nn.MLP(pairs[0][0].in_features, [], rng=0)
    mlp.layers = layers
    return mlp
