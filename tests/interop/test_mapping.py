"""The discrete <-> continuous parameter equations of neuromorph.interop.mapping."""
import numpy as np
import pytest

from neuromorph.interop.mapping import decay_to_nir, is_unit, nir_to_decay


def test_decay_to_nir_follows_forward_euler():
    tau, r = decay_to_nir(np.array([0.5, 0.9, 0.99]), dt=1e-4)
    np.testing.assert_allclose(tau, [2e-4, 1e-3, 1e-2], rtol=1e-12)
    np.testing.assert_allclose(r, tau / 1e-4, rtol=1e-12)
    # one Euler step of tau dv/dt = -v + r I: v + dt/tau (-v + r I) = beta v + I
    np.testing.assert_allclose(1 - 1e-4 / tau, [0.5, 0.9, 0.99], rtol=1e-12)


def test_nir_to_decay_inverts_and_reports_gain():
    beta, gain = nir_to_decay(*decay_to_nir(0.8, dt=1e-3), dt=1e-3)
    assert abs(float(beta) - 0.8) < 1e-12 and is_unit(gain)
    beta, gain = nir_to_decay(0.01, 1.0, dt=1e-3)  # Norse's r = 1: input enters with gain dt/tau
    assert abs(float(beta) - 0.9) < 1e-12 and abs(float(gain) - 0.1) < 1e-12 and not is_unit(gain)


@pytest.mark.parametrize("tau, dt", [(1e-3, 1e-3), (1e-3, 2e-3)])
def test_time_step_not_below_tau_is_rejected(tau, dt):
    with pytest.raises(ValueError, match="dt/tau"):
        nir_to_decay(tau, 1.0, dt=dt)


@pytest.mark.parametrize("dt", [0.0, -1.0, float("nan"), True, "1e-3"])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match="dt"):
        decay_to_nir(0.9, dt=dt)


def test_beta_out_of_range():
    with pytest.raises(ValueError, match="beta"):
        decay_to_nir(1.0, dt=1e-3)
