"""Neural networks: the activation, loss and layer tables, the architectures, the numpy reference, the scalar graph.

One module per concept:

* :mod:`~symprop.nn.activations`: every activation, defined once (SymPy formula, numpy reference, stable logs);
* :mod:`~symprop.nn.losses`: every loss, defined once (SymPy formula per sample, numpy reference);
* :mod:`~symprop.nn.layers`: the layer table (linear, activations, batchnorm, layernorm, dropout, residual),
  each kind's parameters, scalar nodes, numpy forward, compiled code and matrix form
  (:mod:`~symprop.nn.layer_kinds`, :mod:`~symprop.nn.norms`);
* :mod:`~symprop.nn.mlp`: the architectures, an :class:`MLP` (widths) or a :class:`Sequential` layer list;
* :mod:`~symprop.nn.reference`: the float64 forward pass and loss;
* :mod:`~symprop.nn.network`: the network as a graph of scalar nodes, and :class:`Network`.
* :mod:`~symprop.nn.size`: how big its work is (parameters, exact steps, matrix entries, training bytes),
  estimated before it starts.

Spec files (``[network]``) are read by :mod:`symprop.spec`.
"""

from .activations import (
    ACTIVATIONS,
    Activation,
    activation_formula,
    get_activation,
    register_activation,
    softmax,
)
from .losses import LOSSES, Loss, get_loss, loss_formula, register_loss
from .layers import LAYERS, Layer, register_layer
from .mlp import BIAS_MODES, INITS, MLP, REDUCTIONS, Sequential, scalar_label, scalar_name
from .network import Batch, Network, NetworkProblem, network_graph
from .reference import forward_numpy, loss_numpy, per_sample_loss_numpy

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "get_activation",
    "register_activation",
    "activation_formula",
    "softmax",
    "Loss",
    "LOSSES",
    "get_loss",
    "register_loss",
    "loss_formula",
    "MLP",
    "Sequential",
    "LAYERS",
    "Layer",
    "register_layer",
    "REDUCTIONS",
    "BIAS_MODES",
    "INITS",
    "scalar_name",
    "scalar_label",
    "forward_numpy",
    "loss_numpy",
    "per_sample_loss_numpy",
    "network_graph",
    "Network",
    "NetworkProblem",
    "Batch",
]
