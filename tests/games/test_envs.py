"""The games' observation views: Pong's object features read from the RAM, with and without the relative height."""
from __future__ import annotations

import numpy as np
import pytest

from neuromorph.tasks.games.envs import GAMES, PONG_RAM, PongObjects, PongRelative, make_env

pytest.importorskip("ale_py")


def test_pong_objects_follow_the_ram_and_the_ball_displacement():
    raw, objects = make_env("pong"), make_env("pong_objects")
    assert objects.observation_space.shape == (6,)  # a gymnasium env, usable by any gymnasium consumer
    ram, _ = raw.reset(seed=3)
    feats, _ = objects.reset(seed=3)
    index = list(PONG_RAM.values())
    assert feats.shape == (GAMES["pong_objects"].n_features,) == (6,)
    np.testing.assert_array_equal(feats[:4], ram[index])
    np.testing.assert_array_equal(feats[4:], 0.0)
    previous = ram
    for action in [2, 3, 0, 2, 2, 3] * 10:  # the same actions in both copies of the same episode
        ram, r1, t1, _, _ = raw.step(action)
        feats, r2, t2, _, _ = objects.step(action)
        assert (r1, t1) == (r2, t2)
        np.testing.assert_array_equal(feats[:4], ram[index])
        np.testing.assert_array_equal(feats[4:], ram[index[:2]].astype(float) - previous[index[:2]])
        previous = ram
    raw.close()
    objects.close()


def test_pong_objects_reset_clears_the_displacement():
    view = PongObjects()
    ram = np.zeros(128, np.uint8)
    ram[PONG_RAM["ball_x"]] = 50
    view.reset(ram)
    ram[PONG_RAM["ball_x"]] = 60
    assert view(ram)[4] == 10.0
    assert view.reset(ram)[4] == 0.0


def test_pong_objects_reject_a_wrong_observation():
    with pytest.raises(ValueError, match="ram must be the 128 Pong RAM bytes"):
        PongObjects()(np.zeros(12))


def test_pong_relative_adds_the_ball_height_above_the_own_paddle():
    objects, relative = make_env("pong_objects"), make_env("pong_relative")
    assert relative.observation_space.shape == (GAMES["pong_relative"].n_features,) == (7,)
    plain, _ = objects.reset(seed=5)
    feats, _ = relative.reset(seed=5)
    for action in [2, 2, 3, 0] * 15:
        np.testing.assert_array_equal(feats[:6], plain)
        assert feats[6] == plain[1] - plain[2]  # ball_y - player_y
        plain, *_ = objects.step(action)
        feats, *_ = relative.step(action)
    objects.close()
    relative.close()


def test_pong_relative_rejects_a_wrong_observation():
    with pytest.raises(ValueError, match="ram must be the 128 Pong RAM bytes"):
        PongRelative()(np.zeros(7))
