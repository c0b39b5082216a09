import pytest
import torch
from torch import nn

from neuromorph import SpikeLinear


def _saved_bytes(fn):
    total = {"bytes": 0}

    def pack(t):
        total["bytes"] += t.numel() * t.element_size()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, total["bytes"]


@pytest.mark.parametrize("binary", [True, False])
def test_spike_linear_matches_nn_linear(binary):
    torch.manual_seed(0)
    ref = nn.Linear(20, 7)
    layer = SpikeLinear(20, 7)
    layer.load_state_dict(ref.state_dict())
    leaf = (torch.rand(5, 3, 20) < 0.3).float() if binary else torch.randn(5, 3, 20)
    leaf.requires_grad_()
    x = leaf * 1.0  # an intermediate of the graph, like the spikes of a LIF layer
    g = torch.randn(5, 3, 7)
    out_ref = ref(x)
    out, saved = _saved_bytes(lambda: layer(x))
    torch.testing.assert_close(out, out_ref)
    grads = torch.autograd.grad(out, [x, layer.weight, layer.bias], g)
    grads_ref = torch.autograd.grad(out_ref, [x, ref.weight, ref.bias], g)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b)
    input_bytes = x.numel() * (1 if binary else 4)
    assert saved == input_bytes + layer.weight.numel() * 4


def test_spike_linear_rejects_wrong_feature_size():
    with pytest.raises(ValueError, match=r"\[\.\.\., 4\]"):
        SpikeLinear(4, 2)(torch.ones(3, 5))


def test_leaf_inputs_are_referenced_not_copied():
    layer = SpikeLinear(6, 2)
    x = (torch.rand(4, 6) < 0.5).float()
    _, saved = _saved_bytes(lambda: layer(x))
    ref = nn.Linear(6, 2)
    _, saved_ref = _saved_bytes(lambda: ref(x))
    assert saved == saved_ref  # exactly what nn.Linear keeps (x by reference; no weight: x needs no grad)
    assert saved >= x.numel() * 4


def test_lif_spikes_reach_spike_linear_as_bytes_with_identical_gradients():
    from neuromorph import LIF
    from neuromorph.neurons import native
    from neuromorph.synapses.compact import tagged_compact_spikes

    torch.manual_seed(1)
    x = (torch.randn(6, 4, 9) + 0.8).requires_grad_()
    spikes = LIF()(x)
    if native.load() is not None:
        tagged = tagged_compact_spikes(spikes)
        assert tagged is not None and tagged.dtype == torch.uint8 and torch.equal(tagged.float(), spikes)
    layer, ref = SpikeLinear(9, 3), nn.Linear(9, 3)
    ref.load_state_dict(layer.state_dict())
    out, saved = _saved_bytes(lambda: layer(spikes))
    assert saved == spikes.numel() + layer.weight.numel() * 4
    g_new = torch.autograd.grad(out.square().sum(), [x, layer.weight])
    g_ref = torch.autograd.grad(ref(LIF()(x)).square().sum(), [x, ref.weight])
    for a, b in zip(g_new, g_ref):
        torch.testing.assert_close(a, b)


def test_in_place_change_invalidates_the_byte_copy():
    from neuromorph import LIF
    from neuromorph.synapses.compact import tagged_compact_spikes

    spikes = LIF()(torch.full((3, 2, 4), 1.5, requires_grad=True) * 1.0)
    assert spikes.grad_fn is not None
    spikes.mul_(2.0)
    assert tagged_compact_spikes(spikes) is None
    layer = SpikeLinear(4, 2)
    _, saved = _saved_bytes(lambda: layer(spikes))
    assert saved == spikes.numel() * 4 + layer.weight.numel() * 4  # {0, 2} is not binary: kept as float


def test_byte_copy_is_found_through_a_whole_tensor_view():
    """``spikes.flatten(0, 1)`` (how the models feed ``[T, B, F]`` spikes to a synapse) keeps the byte copy;
    a partial view, or an in-place change through the view, does not."""
    from neuromorph import LIF
    from neuromorph.neurons import native
    from neuromorph.synapses.compact import tagged_compact_spikes

    if native.load() is None:
        pytest.skip("compiled kernel unavailable")
    spikes = LIF(threshold=0.5)(torch.rand(5, 3, 8, requires_grad=True) * 1.0)
    flat = spikes.flatten(0, 1)
    tagged = tagged_compact_spikes(flat)
    assert tagged is not None and tagged.shape == flat.shape and torch.equal(tagged.float(), flat)
    assert tagged_compact_spikes(spikes[1:]) is None  # not the whole tensor
    assert tagged_compact_spikes(spikes.transpose(0, 1)) is None  # not contiguous
    flat.mul_(2.0)
    assert tagged_compact_spikes(flat) is None and tagged_compact_spikes(spikes) is None
