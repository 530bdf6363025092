"""PyTorch interop: a compiled program as a ``torch.nn.Module``, and a PyTorch MLP as an ``nn.MLP``.

    from micrograd.interop import to_torch, from_torch
    net = to_torch(model)                         # or to_torch(micrograd.compile(fn, n_inputs=k, params=ps))
    Y = net(torch.tensor(X))                      # (N, nin) -> (N, nout), float64
    crit = to_torch(model, loss="cross_entropy")  # crit(X, y): the mean loss, as cm.loss_and_grad gives
    mlp = from_torch(torch.nn.Sequential(...))    # Linear layers and supported activations -> nn.MLP

PyTorch is optional: ``import micrograd`` never imports it, and importing this
package without it raises an ImportError that names the install command.
See docs/interop.md for the naming of the exported parameters.
"""

INSTALL = "pip install torch==2.13.0 (the 'reference' extra: pip install 'micrograd-compiled[reference]')"

try:
    import torch  # noqa: F401
except ImportError as e:
    raise ImportError(
        f"micrograd.interop needs PyTorch, which is optional: {INSTALL}. (import torch failed: {e})"
    ) from None

from micrograd.interop.export import TORCH_OPS, TorchProgram, to_torch  # noqa: E402
from micrograd.interop.importer import from_torch  # noqa: E402

__all__ = ["to_torch", "from_torch", "TorchProgram", "TORCH_OPS", "INSTALL"]
