"""nn: micrograd's Neuron/Layer/MLP surface, activations, inits, seeds, names, state round trips."""

import copy
import json
import math
import pickle
import random

import numpy as np
import pytest

from micrograd import nn
from micrograd.engine import Value
from micrograd.nn import MLP, Layer, Module, Neuron, load_state

SELU = (1.0507009873554804934193349852946, 1.6732632423543772848170429916717)


def test_repr_and_structure_like_micrograd():
    model = MLP(2, [3, 1])
    assert repr(model) == (
        "MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2), ReLUNeuron(2)], Layer of [LinearNeuron(3)]]"
    )
    assert len(model.parameters()) == 3 * 3 + 4
    assert isinstance(model([1.0, 2.0]), Value)  # a layer of one neuron gives a single Value
    assert isinstance(Layer(2, 2)([1.0, 2.0]), list)


def test_default_weights_come_from_global_random_in_micrograd_order():
    random.seed(7)
    model = MLP(3, [4, 2])
    random.seed(7)
    draws = [random.uniform(-1, 1) for _ in range(3 * 4 + 4 * 2)]
    weights = [w.data for layer in model.layers for n in layer.neurons for w in n.w]
    assert weights == draws
    assert all(n.b.data == 0.0 for layer in model.layers for n in layer.neurons)
    assert model.parameters() == [p for layer in model.layers for n in layer.neurons for p in n.w + [n.b]]


def test_rng_seed_or_generator_is_reproducible_and_leaves_global_random_alone():
    random.seed(3)
    before = random.getstate()
    a, b = MLP(2, [5, 1], rng=11), MLP(2, [5, 1], rng=random.Random(11))
    assert random.getstate() == before
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert [p.data for p in a.parameters()] != [p.data for p in MLP(2, [5, 1], rng=12).parameters()]


@pytest.mark.parametrize(
    "init, bound", [("uniform", 1.0), ("xavier", math.sqrt(6 / (4 + 3))), ("he", math.sqrt(6 / 4))]
)
def test_inits_draw_uniform_in_their_bound(init, bound):
    layer = Layer(4, 3, init=init, rng=5)
    r = random.Random(5)
    assert [w.data for n in layer.neurons for w in n.w] == [r.uniform(-bound, bound) for _ in range(12)]


def _reference_activation(name, z, slope=0.25):
    return {
        "identity": z,
        "relu": max(z, 0.0),
        "tanh": math.tanh(z),
        "sigmoid": 1 / (1 + math.exp(-z)),
        "leaky_relu": z if z > 0 else 0.01 * z,
        "prelu": z if z > 0 else slope * z,
        "elu": z if z > 0 else math.exp(z) - 1,
        "selu": SELU[0] * (z if z > 0 else SELU[1] * (math.exp(z) - 1)),
    }[name]


@pytest.mark.parametrize("name", ["identity", "relu", "tanh", "sigmoid", "leaky_relu", "prelu", "elu", "selu"])
def test_activations_compute_their_formula(name):
    x = [0.3, -1.2, 2.0]
    for seed in range(6):  # both signs of the pre-activation
        n = Neuron(3, activation=name, rng=seed)
        z = sum(w.data * xi for w, xi in zip(n.w, x))
        assert abs(n(x).data - _reference_activation(name, z)) < 1e-15
    assert Neuron(2, nonlin=False, activation="tanh").activation == "identity"
    assert repr(Neuron(2, activation="tanh")) == "TanhNeuron(2)"


def test_mlp_applies_activation_to_hidden_layers_only():
    model = MLP(2, [3, 2], activation="tanh", rng=0)
    assert [n.activation for n in model.layers[0].neurons] == ["tanh"] * 3
    assert [n.activation for n in model.layers[1].neurons] == ["identity"] * 2


def test_prelu_slopes_per_neuron_or_per_layer():
    layer = Layer(2, 3, activation="prelu", rng=0)
    assert len(layer.parameters()) == 3 * 4 and layer.parameters()[3] is layer.neurons[0].slope
    assert layer.neurons[0].slope.data == 0.25
    shared = Layer(2, 3, activation="prelu", prelu="layer", rng=0)
    assert len(shared.parameters()) == 3 * 3 + 1 and shared.parameters()[-1] is shared.slope
    out = shared([-1.0, -1.0])
    sum(out).backward()
    zs = [n.w[0].data * -1 + n.w[1].data * -1 for n in shared.neurons]
    assert shared.slope.grad == sum(z for z in zs if z <= 0)  # d/dslope of slope*z on the negative side
    assert [name for name, _ in shared.named_parameters()][-1] == "slope"


def test_bad_keywords_raise():
    for kwargs in ({"activation": "swish"}, {"init": "orthogonal"}, {"rng": "seed"}, {"prelu": "global"}):
        with pytest.raises((ValueError, TypeError)) as info:
            Neuron(2, **kwargs)
        assert str(list(kwargs.values())[0]) in str(info.value)


def test_named_parameters_follow_parameters_order():
    model = MLP(3, [4, 2], rng=1)
    named = model.named_parameters()
    assert [p for _, p in named] == model.parameters()
    assert named[0][0] == "layers.0.neurons.0.w.0" and named[3][0] == "layers.0.neurons.0.b"
    assert named[-1][0] == "layers.1.neurons.1.b" and len({n for n, _ in named}) == len(named)


def test_last_io_records_inputs_and_outputs_as_values():
    model = MLP(2, [3, 1], rng=0)
    out = model([1.0, Value(2.0)])
    ins, outs = model._last_io
    assert all(isinstance(v, Value) for v in ins) and [v.data for v in ins] == [1.0, 2.0]
    assert outs == (out,)
    assert model.layers[0]._last_io[0] == ins and len(model.layers[0]._last_io[1]) == 3
    neuron = model.layers[1].neurons[0]
    assert neuron._last_io == (model.layers[0]._last_io[1], (out,))


def test_micrograd_style_subclass_gets_numbered_names():
    class Affine(Module):
        def __init__(self):
            self.a, self.b = Value(2.0), Value(1.0)

        def parameters(self):
            return [self.a, self.b]

    m = Affine()
    assert m.state_dict() == {"0": 2.0, "1": 1.0}
    m.zero_grad()
    assert m.a.grad == 0.0


AWKWARD = [0.1 + 0.2, 1e-300, -5e-324, 1 / 3, math.nextafter(1.0, 2.0), -0.0, 123456789.123456789]


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_and_load_round_trip_exactly(tmp_path, suffix):
    model = MLP(2, [3, 1], rng=0)
    for p, v in zip(model.parameters(), AWKWARD * 3):
        p.data = v
    path = tmp_path / f"weights{suffix}"
    model.save(path)
    other = MLP(2, [3, 1], rng=99).load(path)
    assert [p.data for p in other.parameters()] == [p.data for p in model.parameters()]
    assert [math.copysign(1, p.data) for p in other.parameters()] == [
        math.copysign(1, p.data) for p in model.parameters()
    ]
    if suffix == ".json":
        assert json.loads(path.read_text()) == model.state_dict()
    else:
        with np.load(path) as z:
            assert set(z.files) == set(model.state_dict())
    assert load_state(path) == model.state_dict()


@pytest.mark.parametrize("suffix, bad", [(".json", object()), (".npz", 1 + 2j)])
def test_failed_save_leaves_the_previous_checkpoint_byte_identical(tmp_path, suffix, bad):
    model = MLP(2, [3, 1], rng=0)
    path = tmp_path / f"weights{suffix}"
    model.save(path)
    before = path.read_bytes()
    model.parameters()[2].data = bad  # json cannot serialize an object; np.float64 refuses a complex
    with pytest.raises(TypeError):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left behind
    model.parameters()[2].data = 0.25
    model.save(path)  # and a good save still replaces it
    assert load_state(path) == model.state_dict() and model.state_dict()["layers.0.neurons.0.b"] == 0.25


def test_load_state_dict_reports_missing_unexpected_and_bad_values():
    model = MLP(2, [2, 1], rng=0)
    state = model.state_dict()
    missing = dict(state)
    del missing["layers.1.neurons.0.b"]
    with pytest.raises(KeyError, match="missing keys \\['layers.1.neurons.0.b'\\]"):
        model.load_state_dict(missing)
    with pytest.raises(KeyError, match="unexpected keys \\['extra'\\]"):
        model.load_state_dict({**state, "extra": 1.0})
    bad = {**state, "layers.0.neurons.0.w.0": "0.5"}
    before = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match="layers.0.neurons.0.w.0"):
        model.load_state_dict(bad)
    assert [p.data for p in model.parameters()] == before  # nothing half-loaded
    with pytest.raises(KeyError, match="missing keys"):
        MLP(2, [3, 1]).load_state_dict(state)  # another architecture
    with pytest.raises(ValueError, match=".txt"):
        model.save("weights.txt")


def test_notebook_display_is_short_and_structured_while_repr_stays_micrograds():
    from IPython.lib.pretty import pretty

    model = MLP(2, [16, 16, 1])
    n_params = (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1)  # weights + biases per layer
    assert model.describe() == f"MLP(2 -> [16, 16] -> 1, relu, {n_params} parameters)"
    assert pretty(model).splitlines() == [
        f"MLP(2 -> [16, 16] -> 1, relu, {n_params} parameters)",
        "  layers.0: Layer(2 -> 16, relu, 48 parameters)",
        "  layers.1: Layer(16 -> 16, relu, 272 parameters)",
        "  layers.2: Layer(16 -> 1, linear, 17 parameters)",
    ]
    html = model._repr_html_()
    assert html.count("<tr>") == 1 + 3 and "2 -&gt; [16, 16]" in html and "<td>272</td>" in html
    assert repr(model).startswith("MLP of [Layer of [ReLUNeuron(2), ") and repr(model).count("Neuron(") == 33
    assert MLP(3, [1], activation="tanh").describe() == "MLP(3 -> 1, linear, 4 parameters)"
    assert pretty(Layer(4, 2, activation="tanh")) == "Layer(4 -> 2, tanh, 10 parameters)"


@pytest.mark.parametrize(
    "batch, got", [(np.zeros((5, 2)), "an array of shape (5, 2)"), ([[1.0, 2.0], [3.0, 4.0]], "a list of 2 rows")]
)
@pytest.mark.parametrize("module", [MLP(2, [3, 1]), Layer(2, 3), Neuron(2)])
def test_a_batch_on_the_value_path_says_a_model_takes_one_example(module, batch, got):
    with pytest.raises(TypeError) as e:
        module(batch)
    msg = str(e.value)
    assert f"{type(module).__name__} takes one example" in msg and got in msg
    assert "[model(x) for x in X]" in msg and "micrograd.compile(model)(X)" in msg
    assert "Value(float(x))" not in msg  # the old advice, wrong for a batch
    # both ways it names really run the batch
    assert len([module(x) for x in np.asarray(batch)]) == len(batch)


def test_bad_numbers_in_one_example_keep_the_value_message():
    with pytest.raises(TypeError, match="Value data must be a real number, got 'a'"):
        MLP(2, [1])(["a", 1.0])


# ---------------------------------------------------------------- structure changes: nn.mutations()
def _mutations_after(change) -> int:
    before = nn.mutations()
    change()
    return nn.mutations() - before


MUTATIONS = {
    "a weight replaced": lambda m: m.layers[0].neurons[0].w.__setitem__(0, Value(5.0)),
    "a layer replaced": lambda m: m.layers.__setitem__(0, Layer(2, 3, rng=1)),
    "a neuron appended": lambda m: m.layers[-1].neurons.append(Neuron(3, rng=1)),
    "a bias assigned": lambda m: setattr(m.layers[0].neurons[1], "b", Value(1.0)),
    "the layers assigned": lambda m: setattr(m, "layers", [Layer(2, 1, rng=2)]),
    "a weight deleted": lambda m: m.layers[0].neurons[0].w.__delitem__(1),
    "weights extended": lambda m: m.layers[0].neurons[0].w.extend([Value(1.0)]),
    "a neuron inserted": lambda m: m.layers[0].neurons.insert(0, Neuron(2, rng=3)),
    "a neuron popped": lambda m: m.layers[0].neurons.pop(),
    "a layer removed": lambda m: m.layers.remove(m.layers[1]),
    "the neurons cleared": lambda m: m.layers[1].neurons.clear(),
    "the neurons reversed": lambda m: m.layers[0].neurons.reverse(),
    "the weights sorted": lambda m: m.layers[0].neurons[0].w.sort(key=lambda v: v.data),
    "a slice assigned": lambda m: m.layers[0].neurons[0].w.__setitem__(slice(0, 1), [Value(2.0)]),
    "weights added in place": lambda m: m.layers[0].neurons[0].w.__iadd__([Value(3.0)]),
    "layers repeated in place": lambda m: m.layers.__imul__(2),
    "an activation changed": lambda m: setattr(m.layers[0].neurons[0], "activation", "tanh"),
    "an attribute deleted": lambda m: delattr(m.layers[0].neurons[0], "b"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_every_change_to_a_models_structure_counts_as_a_mutation(name):
    m = MLP(2, [3, 1], rng=0)
    assert _mutations_after(lambda: MUTATIONS[name](m)) >= 1


def test_what_is_not_a_structure_change_leaves_the_counter_alone():
    m = MLP(2, [3, 1], rng=0)
    X = [[0.5, -1.0], [2.0, 0.25]]

    def value_path_training():  # forward calls, backward, an SGD step, zero_grad, reading the structure
        for x in X:
            m(x).backward()
        for p in m.parameters():
            p.data -= 0.1 * p.grad
        m.zero_grad()
        _ = [w for layer in m.layers for n in layer.neurons for w in n.w], m.state_dict(), repr(m)
        m.layers[0].neurons[0].b = m.layers[0].neurons[0].b  # the same object assigned again

    assert _mutations_after(value_path_training) == 0


def test_a_models_lists_stay_lists_that_compare_copy_and_pickle_as_lists():
    m = MLP(2, [3, 1], rng=0)
    for lst in (m.layers, m.layers[0].neurons, m.layers[0].neurons[0].w):
        assert isinstance(lst, list) and lst == list(lst) and repr(lst) == repr(list(lst))
        assert type(lst[:]) is list and type(lst + []) is list  # slices and sums are plain lists
    m.layers = [Layer(2, 1, rng=1)]  # an assigned plain list is tracked too
    assert isinstance(m.layers, nn.TrackedList)
    before = nn.mutations()
    m.layers.append(Layer(1, 1, rng=2))
    assert nn.mutations() > before
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        twin = pickle.loads(pickle.dumps(m, protocol))
        assert type(twin.layers) is nn.TrackedList and len(twin.layers) == 2
        assert twin.state_dict() == m.state_dict() and repr(twin) == repr(m)
    twin = copy.deepcopy(m)
    before = nn.mutations()
    twin.layers[0].neurons[0].w[0] = Value(9.0)  # the copy's lists are tracked as well
    assert nn.mutations() > before and m.layers[0].neurons[0].w[0].data != 9.0
    old = MLP.__new__(MLP)  # a module pickled with plain lists is tracked once loaded
    old.__setstate__(dict(vars(m), layers=list(m.layers)))
    assert type(old.layers) is nn.TrackedList and old.layers == m.layers


# ---------------------------------------------------------------- copies and pickles carry no graphs
def _independent_twin(m, twin):
    assert repr(twin) == repr(m) and twin.state_dict() == m.state_dict()
    assert not {id(p) for p in twin.parameters()} & {id(p) for p in m.parameters()}  # new Values
    assert all(type(p) is Value and p._children == () for p in twin.parameters())
    twin.parameters()[0].data += 1.0
    assert twin.parameters()[0].data != m.parameters()[0].data


@pytest.mark.parametrize(
    "make_twin", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))], ids=["deepcopy", "pickle"]
)
def test_a_model_after_a_forward_call_copies_without_its_graph(make_twin):
    m = MLP(200, [4, 1], rng=0)
    m([0.01 * i for i in range(200)])  # each module now holds its last forward graph (_last_io)
    twin = make_twin(m)
    _independent_twin(m, twin)
    mods = [twin, *twin.layers, *(n for layer in twin.layers for n in layer.neurons)]
    assert all(mod._last_io is None for mod in mods)
    assert len(pickle.dumps(m)) < 2 * len(pickle.dumps(MLP(200, [4, 1], rng=0)))  # no graph inside


def test_a_compiled_model_copies_as_plain_values_without_the_traced_graph():
    import micrograd

    m = MLP(100, [4, 1], rng=0)
    micrograd.compile(m)  # traces the model (its _last_io: the traced graph) and binds its parameters
    for twin in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        _independent_twin(m, twin)
        assert twin._last_io is None


@pytest.mark.slow
def test_a_trained_784_128_10_model_copies_and_pickles():
    rng = np.random.default_rng(0)
    m = MLP(784, [128, 10], rng=0)
    for _ in range(2):  # a few Value-path training steps
        m.zero_grad()
        out = m(list(rng.uniform(0, 1, 784)))
        loss = sum((o * o for o in out), Value(0.0))
        loss.backward()
        for p in m.parameters():
            p.data -= 1e-3 * p.grad
    for make_twin in (copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))):
        _independent_twin(m, make_twin(m))


def test_a_shared_prelu_slope_stays_shared_in_the_copy():
    m = MLP(2, [3, 1], activation="prelu", prelu="layer", rng=0)
    for twin in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        layer = twin.layers[0]
        assert all(n._shared_slope is layer.slope for n in layer.neurons)
        assert layer.slope is not m.layers[0].slope


# ---------------------------------------------------------------- one example of the right width
@pytest.mark.parametrize(
    "module, width",
    [(MLP(2, [3, 1], rng=0), 2), (Layer(2, 3, rng=0), 2), (Neuron(2, rng=0), 2), (MLP(0, [2], rng=0), 0)],
    ids=["MLP", "Layer", "Neuron", "MLP of no inputs"],
)
def test_a_wrong_number_of_inputs_is_refused_by_name(module, width):
    module([0.5] * width)  # the right width runs
    for wrong in (width + 1, width - 1):
        if wrong < 0:
            continue
        with pytest.raises(ValueError) as e:
            module([0.5] * wrong)
        msg = str(e.value)
        assert f"{type(module).__name__} takes {width} inputs" in msg and f"got {wrong}" in msg, msg


def test_calls_recorded_for_diagrams_are_not_copied():
    from micrograd.viz.modules import record_calls

    m = MLP(3, [2, 1], rng=0)
    with record_calls(m):
        m([1.0, 2.0, 3.0])
    assert vars(m).get("_viz_calls")  # what record_calls keeps (viz.modules._CALLS_ATTR)
    for twin in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert "_viz_calls" not in vars(twin) and twin._last_io is None
