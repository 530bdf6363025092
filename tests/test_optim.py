"""optim without PyTorch: the update formulas in closed form for simple gradients, schedules, state,
errors. (tests/test_torch_reference.py compares 20 steps with torch.optim to 1e-12.)"""

import math

import pytest

from micrograd import optim
from micrograd.engine import Value
from micrograd.optim import SGD, Adam, adam_update, clip_grad_norm_, sgd_update


def _params(*xs):
    return [Value(x) for x in xs]


def test_plain_sgd_and_schedule_of_the_step_number():
    ps = _params(1.0, -2.0)
    opt = SGD(ps, lr=lambda t: 0.1 / (t + 1))
    seen = []
    for _ in range(3):
        seen.append(opt.current_lr())
        for p in ps:
            p.grad = 2.0 * p.data  # d/dp of p^2
        opt.step()
    assert seen == [0.1, 0.05, 0.1 / 3] and opt.t == 3
    x = 1.0
    for lr in seen:
        x -= lr * 2 * x
    assert abs(ps[0].data - x) < 1e-15


def test_momentum_with_constant_gradient_is_a_geometric_sum():
    p = _params(0.0)
    opt = SGD(p, lr=0.5, momentum=0.9, dampening=0.1)
    for _ in range(4):
        p[0].grad = 1.0
        opt.step()
    bufs = [1.0]  # the first buffer is the gradient itself (no dampening), as in PyTorch
    for _ in range(3):
        bufs.append(0.9 * bufs[-1] + 0.9 * 1.0)
    assert abs(p[0].data - -0.5 * sum(bufs)) < 1e-14 and abs(opt.momentum_buffer[0] - bufs[-1]) < 1e-15


def test_nesterov_and_weight_decay_single_step():
    new_p, buf = sgd_update(2.0, 0.5, 0.0, 0.1, 0.9, 0.0, True, 0.01, True)
    g = 0.5 + 0.01 * 2.0
    assert buf == g and abs(new_p - (2.0 - 0.1 * (g + 0.9 * g))) < 1e-15


def test_adam_first_step_moves_by_lr_times_sign():
    ps = _params(1.0, -1.0, 3.0)
    opt = Adam(ps, lr=0.01)
    for p, g in zip(ps, (0.3, -7.0, 1e-3)):
        p.grad = g
    opt.step()
    # m_hat = g, v_hat = g^2 after one step: p - lr * g / (|g| + eps)
    for p, x, g in zip(ps, (1.0, -1.0, 3.0), (0.3, -7.0, 1e-3)):
        assert abs(p.data - (x - 0.01 * g / (abs(g) + 1e-8))) < 1e-15
    assert opt.t == 1 and opt.m == pytest.approx([0.03, -0.7, 1e-4], rel=1e-14)
    assert opt.v == pytest.approx([0.3**2 * 1e-3, 49 * 1e-3, 1e-9], rel=1e-12)


def test_adam_formula_matches_textbook_with_weight_decay():
    p, m, v = 0.5, 0.0, 0.0
    for t in range(1, 6):
        g = math.sin(t) + 0.1 * p  # weight decay 0.1 folded into the gradient by hand
        m_ref = 0.9 * m + 0.1 * g
        v_ref = 0.999 * v + 0.001 * g * g
        p_ref = p - 0.01 * (m_ref / (1 - 0.9**t)) / (math.sqrt(v_ref / (1 - 0.999**t)) + 1e-8)
        p, m, v = adam_update(p, math.sin(t), m, v, t, 0.01, 0.9, 0.999, 1e-8, 0.1)
        assert abs(p - p_ref) < 1e-12 and abs(m - m_ref) < 1e-15 and abs(v - v_ref) < 1e-15


def test_adam_minimizes_a_quadratic_and_zero_grad_clears():
    ps = _params(3.0, -4.0)
    opt = Adam(ps, lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        loss = sum((p - 1.0) ** 2 for p in ps)
        loss.backward()
        opt.step()
    assert all(abs(p.data - 1.0) < 1e-3 for p in ps)
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in opt.params)


def test_optimizer_argument_errors():
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Values"):
        SGD([1.0], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(_params(1.0), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr"):
        Adam(_params(1.0), lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam(_params(1.0), betas=(1.0, 0.9))


def test_the_compiled_update_shares_the_optimizers_state():
    """What fit uses instead of knowing each optimizer: its update's name, its hyper-parameters, and one
    float64 array holding its state, which the optimizer keeps using (no copy between fit and step())."""
    adam = Adam(_params(0.0, 1.0, 2.0, 3.0), lr=0.1, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.5)
    adam.m, adam.v = [1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]
    st = adam.kernel_state(3)
    assert st.tolist() == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert adam.kernel_state(3) is st
    st[3:] *= 10  # what a compiled step writes
    assert adam.m.tolist() == [10.0, 20.0, 30.0, 40.0] and adam.v.tolist() == [50.0, 60.0, 70.0, 80.0]
    for p in adam.params:
        p.grad = 1.0
    adam.step()  # the Value path continues from the same arrays
    assert st[3] == adam.m[0] == 10.0 + (1.0 - 0.8) * (1.0 - 10.0)  # torch's lerp, from the kernel's state
    assert (adam.kernel_update, adam.kernel_hyper()) == ("adam", dict(beta1=0.8, beta2=0.9, eps=1e-6, weight_decay=0.5))
    assert type(adam.params[0].data) is float
    sgd = SGD(_params(0.0, 1.0, 2.0, 3.0), lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)
    sgd.momentum_buffer = [1.0, 2.0, 3.0, 4.0]
    assert sgd.kernel_state(2).tolist() == [0.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    assert (sgd.kernel_update, sgd.kernel_hyper()) == (
        "sgd",
        dict(momentum=0.9, dampening=0.0, nesterov=True, weight_decay=0.1),
    )
    assert optim.Optimizer(_params(1.0), lr=0.1).kernel_update is None
    assert SGD(_params(1.0), lr=lambda t: 0.5**t).learning_rates(2, 3) == [0.25, 0.125, 0.0625]


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_norm():
    ps = _params(0.0, 0.0, 0.0)
    for p, g in zip(ps, (3.0, -4.0, 0.0)):
        p.grad = g
    assert clip_grad_norm_(ps, 1.0) == 5.0
    coef = 1.0 / (5.0 + 1e-6)
    assert [p.grad for p in ps] == [3.0 * coef, -4.0 * coef, 0.0]
    assert clip_grad_norm_(ps, 10.0) == math.sqrt(sum(p.grad**2 for p in ps))  # below max_norm: unchanged
    assert [p.grad for p in ps] == [3.0 * coef, -4.0 * coef, 0.0]
    for p, g in zip(ps, (1.0, -2.0, 0.5)):
        p.grad = g
    assert clip_grad_norm_(ps, 1.0, norm_type="inf") == 2.0 and clip_grad_norm_(ps[0], 5.0, norm_type=1) == 1.0 / (
        2.0 + 1e-6
    )


def test_clip_grad_norm_refuses_bad_arguments():
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_(_params(1.0), -1.0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(_params(1.0), 1.0, norm_type=0)
    p = _params(1.0)
    p[0].grad = math.inf
    with pytest.raises(RuntimeError, match="cannot be clipped"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
