import math

import pytest
import torch

from neuromorph.encoding import (LatencyDecoder, LatencyEncoder, first_spike_time, latency_decode,
                                 latency_encode, spike_times)


def test_linear_latency_times_and_single_spike():
    x = torch.tensor([1.0, 0.5, 0.0, 0.005])
    t = spike_times(x, 11)
    assert t[:2].tolist() == [0.0, 5.0]
    assert math.isinf(t[2]) and math.isinf(t[3])  # below threshold: silent
    s = latency_encode(x, 11)
    assert s.shape == (11, 4)
    assert s.sum(0).tolist() == [1.0, 1.0, 0.0, 0.0]


def test_linear_round_trip_error_bound():
    x = torch.rand(1000, generator=torch.Generator().manual_seed(0)) * 0.98 + 0.02
    T = 21
    x_hat = latency_decode(latency_encode(x, T))
    assert (x_hat - x).abs().max() <= 0.5 / (T - 1) + 1e-6


def test_log_latency_favours_small_values_and_round_trips():
    x = torch.tensor([1.0, 0.1, 0.01])
    t = spike_times(x, 101, method="log", threshold=0.01)
    assert t.tolist() == [0.0, 50.0, 100.0]
    x_hat = latency_decode(latency_encode(x, 101, method="log"), method="log")
    assert torch.allclose(x_hat, x, rtol=1e-5)


def test_first_spike_time_and_decoder():
    s = torch.zeros(5, 2, 3)
    s[3, 0, 0] = 1
    s[1, 0, 1] = 1
    s[4, 0, 1] = 1
    assert first_spike_time(s[:, 0]).tolist() == [3.0, 1.0, math.inf]
    dec = LatencyDecoder()
    scores = dec(s)
    assert scores[0].tolist() == [-3.0, -1.0, -5.0]
    assert dec.predict(s)[0] == 1


def test_module_and_bad_arguments():
    assert LatencyEncoder(8)(torch.rand(2, 3)).shape == (8, 2, 3)
    with pytest.raises(ValueError, match="num_steps"):
        latency_encode(torch.rand(3), 1)
    with pytest.raises(ValueError, match="threshold"):
        latency_encode(torch.rand(3), 5, threshold=0.0)
    with pytest.raises(ValueError, match="method"):
        latency_encode(torch.rand(3), 5, method="exp")
