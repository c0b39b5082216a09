"""Fixtures shared by the neuron tests."""
import pytest


@pytest.fixture(params=["torch", "native"])
def kernel_backend(request, monkeypatch):
    """Force one backend of lif_sequence: the torch-ops path or the compiled C++ kernel (skipped if unbuilt)."""
    from neuromorph.neurons import lif as lif_module
    from neuromorph.neurons import native

    if request.param == "torch":
        monkeypatch.setattr(lif_module, "_use_native", lambda x, s: False)
    elif native.load() is None:
        pytest.skip("compiled kernel not available on this machine (the torch-ops path is tested)")
    return request.param
