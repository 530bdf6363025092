"""losses: each loss against its formula in plain floats, targets as numbers or as Values
(the compiler traces with Value placeholders), stability for huge logits, batch helpers."""

import math

import pytest

from micrograd import losses
from micrograd.engine import Value


def _lse(xs):
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def _vals(xs):
    return [Value(x) for x in xs]


def test_hinge_is_micrograds_demo_form():
    for score, y in [(0.3, 1), (0.3, -1), (2.0, 1), (-1.5, -1)]:
        s = Value(score)
        out = losses.hinge(s, y)
        out.backward()
        assert out.data == max(0.0, 1 - y * score)
        assert s.grad == (-y if 1 - y * score > 0 else 0.0)
    assert [n._op for n in (losses.hinge(Value(0.3), 1),)] == ["ReLU"]


def test_mse_means_over_outputs():
    p = _vals([0.5, -1.0, 2.0])
    out = losses.mse(p, [1.0, 1.0, 1.0])
    out.backward()
    assert abs(out.data - (0.25 + 4.0 + 1.0) / 3) < 1e-15
    assert [v.grad for v in p] == pytest.approx([2 * (0.5 - 1) / 3, 2 * (-2.0) / 3, 2 * 1.0 / 3], rel=1e-15)
    assert losses.mse(Value(3.0), 1.0).data == 4.0


def test_bce_with_logits_matches_formula_and_is_stable():
    for z, y in [(0.7, 1.0), (-2.0, 0.0), (3.0, 0.3)]:
        v = Value(z)
        out = losses.bce_with_logits(v, y)
        out.backward()
        p = 1 / (1 + math.exp(-z))
        assert abs(out.data - -(y * math.log(p) + (1 - y) * math.log(1 - p))) < 1e-14
        assert abs(v.grad - (p - y)) < 1e-15
    big = losses.bce_with_logits(Value(-1000.0), 1.0)
    assert big.data == 1000.0


def test_cross_entropy_int_class_and_distribution_agree():
    logits = [0.2, -1.0, 3.0, 0.5]
    for y in range(4):
        ls = _vals(logits)
        out = losses.cross_entropy(ls, y)
        out.backward()
        assert abs(out.data - (_lse(logits) - logits[y])) < 1e-14
        soft = [math.exp(z - _lse(logits)) for z in logits]
        assert [v.grad for v in ls] == pytest.approx([s - (k == y) for k, s in enumerate(soft)], abs=1e-15)
        onehot = losses.cross_entropy(_vals(logits), [1.0 if k == y else 0.0 for k in range(4)])
        assert abs(onehot.data - out.data) < 1e-14
    probs = [0.1, 0.2, 0.3, 0.4]
    soft = losses.cross_entropy(_vals(logits), probs)
    assert abs(soft.data - (_lse(logits) - sum(p * z for p, z in zip(probs, logits)))) < 1e-14


def test_huge_logits_give_finite_loss_and_gradients():
    ls = _vals([1000.0, -1000.0, 999.0])
    out = losses.cross_entropy(ls, 1)
    out.backward()
    assert abs(out.data - (1000.0 + math.log1p(math.exp(-1.0)) + 1000.0)) < 1e-12
    assert all(math.isfinite(v.grad) for v in ls) and abs(sum(v.grad for v in ls)) < 1e-15
    sm = losses.softmax(_vals([1000.0, 1000.0]))
    assert all(abs(v.data - 0.5) < 4 * 2.0**-43 for v in sm)  # exp(l - lse): lse carries ulp(1000) = 2**-43
    assert abs(sum(v.data for v in losses.softmax(_vals([3.0, -2.0, 700.0]))) - 1.0) < 1e-15
    lsm = losses.log_softmax(_vals([0.0, 0.0, 0.0]))
    assert all(abs(v.data + math.log(3)) < 1e-15 for v in lsm)


@pytest.mark.parametrize(
    "name, outputs, target",
    [
        ("hinge", [0.4], -1.0),
        ("mse", [0.4, -0.2], [1.0, 0.5]),
        ("bce_with_logits", [0.4], 1.0),
        ("cross_entropy", [0.4, -0.2, 1.1], [0.0, 1.0, 0.0]),
    ],
)
def test_targets_may_be_values_with_the_same_numbers(name, outputs, target):
    fn = losses.BY_NAME[name]
    as_numbers = _vals(outputs)
    a = fn(as_numbers, target)
    a.backward()
    as_values = _vals(outputs)
    tv = [Value(t) for t in target] if isinstance(target, list) else Value(target)
    b = fn(as_values, tv)
    b.backward()
    assert a.data == b.data
    assert [v.grad for v in as_numbers] == [v.grad for v in as_values]
    tvs = tv if isinstance(tv, list) else [tv]
    assert any(t.grad != 0.0 for t in tvs)  # the target placeholders are part of the graph


def test_batch_helpers_are_micrograds_demo_forms():
    ls = _vals([1.0, 2.0, 4.0])
    m = losses.mean(ls)
    assert m.data == 7.0 * (1.0 / 3)
    params = _vals([0.5, -2.0])
    reg = losses.l2(params, 1e-4)
    reg.backward()
    assert reg.data == 1e-4 * (0.25 + 4.0) and [p.grad for p in params] == [1e-4 * 1.0, 1e-4 * -4.0]
    rows = [_vals([0.3]), _vals([-0.8])]
    bl = losses.batch_loss(losses.hinge, rows, [1, 1])
    assert bl.data == (0.7 + 1.8) * 0.5


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="2 outputs but 3 targets"):
        losses.mse(_vals([1.0, 2.0]), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="one output"):
        losses.hinge(_vals([1.0, 2.0]), 1)
    with pytest.raises(ValueError, match="class index 3"):
        losses.cross_entropy(_vals([1.0, 2.0]), 3)
    with pytest.raises(TypeError, match="one-hot"):
        losses.cross_entropy(_vals([1.0, 2.0]), Value(1.0))
    with pytest.raises(ValueError, match="2 output rows but 1 targets"):
        losses.batch_loss(losses.mse, [[Value(1.0)], [Value(2.0)]], [1.0])
