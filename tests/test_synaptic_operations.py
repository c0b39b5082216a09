"""metrics.synaptic_operations against a plain per-weight count, for Linear and Conv layers."""
import pytest
import torch
from torch import nn

from neuromorph import LIF
from neuromorph.metrics import ENERGY_PER_AC_PJ, ENERGY_PER_MAC_PJ, synaptic_operations


def reference_linear(inp: torch.Tensor, out_features: int) -> tuple[float, float]:
    dense = effective = 0.0
    for row in inp.reshape(-1, inp.shape[-1]):
        for value in row:
            dense += out_features
            effective += out_features * float(value != 0)
    return dense, effective


def reference_conv2d(inp: torch.Tensor, conv: nn.Conv2d) -> tuple[float, float]:
    """Loop over every output position and every weight, counting uses whose input is inside and non-zero."""
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    b, c, h, w = inp.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    dense = effective = 0.0
    for n in range(b):
        for i in range(oh):
            for j in range(ow):
                for ci in range(c):
                    for u in range(kh):
                        for v in range(kw):
                            dense += conv.out_channels
                            y, x = i * sh + u - ph, j * sw + v - pw
                            if 0 <= y < h and 0 <= x < w and inp[n, ci, y, x] != 0:
                                effective += conv.out_channels
    return dense, effective


def test_linear_counts_match_reference_and_split_spikes_from_real_inputs():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), LIF(0.5, threshold=0.3), nn.Linear(5, 3))
    x = (torch.rand(4, 6) < 0.4).float() * torch.rand(4, 6)         # real-valued, sparse: MACs
    hidden = []
    net[2].register_forward_hook(lambda m, a, o: hidden.append(a[0].clone()))
    ops = synaptic_operations(net, x, encode=lambda b: b.expand(7, -1, -1), batch_size=3)
    n = x.shape[0]
    dense0, eff0 = reference_linear(x.expand(7, -1, -1), 5)
    assert ops["0"]["dense"] == pytest.approx(dense0 / n)
    assert ops["0"]["macs"] == pytest.approx(eff0 / n) and ops["0"]["acs"] == 0
    spikes = torch.cat([h.reshape(-1, 5) for h in hidden])
    dense2, eff2 = reference_linear(spikes, 3)
    assert ops["2"]["dense"] == pytest.approx(dense2 / n)
    assert ops["2"]["acs"] == pytest.approx(eff2 / n) and ops["2"]["macs"] == 0
    assert ops["2"]["input_rate"] == pytest.approx(float(spikes.mean()))
    assert ops["total"]["acs"] == pytest.approx(ops["2"]["acs"])
    energy = (ops["0"]["macs"] * ENERGY_PER_MAC_PJ + ops["2"]["acs"] * ENERGY_PER_AC_PJ) * 1e-6
    assert ops["total"]["energy_uj"] == pytest.approx(energy)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1)])
def test_conv_counts_exclude_padding_and_match_reference(stride, padding):
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, stride=stride, padding=padding)
    x = (torch.rand(2, 2, 6, 5) < 0.3).float()
    ops = synaptic_operations(nn.Sequential(conv), x)
    dense, effective = reference_conv2d(x, conv)
    assert ops["0"]["dense"] == pytest.approx(dense / 2)
    assert ops["0"]["acs"] == pytest.approx(effective / 2) and ops["0"]["macs"] == 0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="no nn.Linear or nn.Conv"):
        synaptic_operations(nn.ReLU(), torch.ones(2, 3))
    with pytest.raises(ValueError, match="at least one example"):
        synaptic_operations(nn.Linear(3, 2), torch.ones(0, 3))
    with pytest.raises(ValueError, match="batch_size"):
        synaptic_operations(nn.Linear(3, 2), torch.ones(2, 3), batch_size=0)
    with pytest.raises(ValueError, match="x contains NaN"):
        synaptic_operations(nn.Linear(3, 2), torch.tensor([[float("nan"), 0.0, 1.0]]))
    with pytest.raises(ValueError, match="padding"):
        synaptic_operations(nn.Conv1d(1, 1, 3, padding="same"), torch.ones(1, 1, 5))
