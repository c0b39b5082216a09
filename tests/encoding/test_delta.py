import math

import pytest
import torch

from neuromorph.encoding import DeltaEncoder, delta_decode, delta_encode


def test_on_off_spikes_follow_changes():
    x = torch.tensor([0.0, 0.3, 0.6, 0.6, 0.2, 0.2])
    s = delta_encode(x, threshold=0.25)
    assert s.shape == (6, 2)
    assert s[:, 0].tolist() == [0, 1, 1, 0, 0, 0]  # ON
    assert s[:, 1].tolist() == [0, 0, 0, 0, 1, 0]  # OFF (0.5 -> 0.25)
    assert torch.allclose(delta_decode(s, 0.25), torch.tensor([0, 0.25, 0.5, 0.5, 0.25, 0.25]))


def test_slow_signal_reconstructed_within_threshold():
    t = torch.linspace(0, 4 * math.pi, 400)
    x = torch.stack([torch.sin(t), 0.5 * torch.cos(t)], dim=-1)  # [T, 2]
    theta = 0.05  # max per-step change ~0.03 < theta
    enc = DeltaEncoder(theta)
    s = enc(x, initial=x[0])
    assert s.shape == (400, 2, 2)
    x_hat = enc.decode(s, initial=x[0])
    assert (x_hat - x).abs().max() < theta
    # from a zero reference the jump to x[0] = (0, 0.5) is followed at one quantum per step (slew limit)
    lagging = enc.decode(enc(x), initial=None)
    assert (lagging - x)[0, 1] == pytest.approx(-0.45)
    assert (lagging - x)[20:].abs().max() < theta
    # far fewer events than samples x channels
    assert s.sum() < 0.5 * x.numel()


def test_initial_reference_is_used_by_both_sides():
    x = torch.full((5, 3), 2.0)
    init = torch.full((3,), 2.0)
    s = delta_encode(x, 0.1, initial=init)
    assert s.sum() == 0
    assert torch.allclose(delta_decode(s, 0.1, initial=init), x)


def test_bad_arguments():
    with pytest.raises(ValueError, match="threshold"):
        delta_encode(torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match="spikes"):
        delta_decode(torch.zeros(3, 3), 0.1)
    with pytest.raises(ValueError, match="initial"):
        delta_encode(torch.zeros(4, 3), 0.1, initial=torch.zeros(2))
