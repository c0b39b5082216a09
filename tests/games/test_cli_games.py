"""``neuromorph learn flappy|pong``: outputs, options and argument checks."""
from __future__ import annotations

import json

import pytest

from neuromorph.cli import main
from neuromorph.cli.learn import GAME_DEFAULTS

pytest.importorskip("ale_py")
pytest.importorskip("flappy_bird_gymnasium")


def test_learn_pong_writes_json_curve_and_png(tmp_path, capsys):
    out = tmp_path / "pong"
    code = main(["learn", "pong", "--env-steps", "400", "--seed", "1", "--out", str(out), "--json",
                 str(tmp_path / "r.json"), "--random-episodes", "0", "--hidden", "8"])
    assert code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    # default view: the six object features, with that view's defaults for the options not given
    assert data["env_steps"] == 400 and data["game"] == "pong_objects" and data["config"]["n_features"] == 6
    assert data["config"]["n_actions"] == 3 and data["config"]["lam"] == 0.9 and data["config"]["hidden"] == 8
    assert data["config"]["n_pop"] == GAME_DEFAULTS["pong_objects"]["n_pop"]
    assert data["rss_mb"][0][0] == 0 and data["random_level"]["mean_score"] is None
    assert (out / "curve.png").exists() and json.loads((out / "curve.json").read_text())["game"] == "pong_objects"
    assert "pong_objects lif agent seed 1: 400 env steps" in capsys.readouterr().out


def test_learn_pong_on_the_ram_bytes(tmp_path):
    assert main(["learn", "pong", "--observation", "ram", "--env-steps", "200", "--out", str(tmp_path),
                 "--random-episodes", "0", "--n-pop", "3"]) == 0
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["game"] == "pong" and data["config"]["n_features"] == 128 and data["config"]["n_pop"] == 3
    assert data["config"]["hidden"] == GAME_DEFAULTS["pong"]["hidden"]


def test_learn_pong_relative_view(tmp_path):
    assert main(["learn", "pong", "--observation", "relative", "--env-steps", "200", "--out", str(tmp_path),
                 "--random-episodes", "0", "--hidden", "8"]) == 0
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["game"] == "pong_relative" and data["config"]["n_features"] == 7
    assert data["config"]["kappa_actor"] == GAME_DEFAULTS["pong_objects"]["kappa_actor"]


def test_learn_pong_rejects_an_unknown_view(capsys):
    with pytest.raises(SystemExit):
        main(["learn", "pong", "--observation", "pixels"])
    assert "invalid choice: 'pixels'" in capsys.readouterr().err


def test_learn_flappy_relu_and_random_policy(tmp_path):
    assert main(["learn", "flappy", "--env-steps", "500", "--unit", "relu", "--hidden", "8", "--out",
                 str(tmp_path / "a"), "--random-episodes", "2"]) == 0
    data = json.loads((tmp_path / "a" / "result.json").read_text())
    assert data["config"]["unit"] == "relu" and len(data["episode_scores"]) >= 1
    # the screened Flappy Bird step sizes are the command's defaults, and each can be overridden
    config = data["config"]
    assert (config["kappa_actor"], config["kappa_critic"], config["entropy"]) == (1.5, 1.0, 0.01)
    assert data["random_level"] == {"mean_score": 0.0, "episodes": 2}
    assert main(["learn", "flappy", "--env-steps", "300", "--hidden", "8", "--kappa-actor", "3", "--entropy", "0",
                 "--out", str(tmp_path / "c"), "--random-episodes", "0"]) == 0
    config = json.loads((tmp_path / "c" / "result.json").read_text())["config"]
    assert (config["kappa_actor"], config["kappa_critic"], config["entropy"]) == (3.0, 1.0, 0.0)
    assert main(["learn", "flappy", "--env-steps", "500", "--policy", "random", "--out", str(tmp_path / "b"),
                 "--random-episodes", "0"]) == 0
    assert json.loads((tmp_path / "b" / "result.json").read_text())["policy"] == "random"


@pytest.mark.parametrize("argv", [["learn", "flappy", "--env-steps", "0"], ["learn", "pong", "--unit", "gru"],
                                  ["learn", "flappy", "--hidden", "-3"], ["learn", "pong", "--policy", "dqn"],
                                  ["learn", "flappy", "--kappa-actor", "fast"],
                                  ["learn", "pong", "--observation", "pixels"],
                                  ["learn", "pong", "--critic-features", "frozen"]])
def test_learn_games_reject_bad_arguments(argv):
    with pytest.raises(SystemExit):
        main(argv)


def test_random_policy_refuses_agent_options(tmp_path):
    with pytest.raises(ValueError, match="--policy random has no agent to configure; drop hidden, refresh_value, "
                                         "critic_features"):
        main(["learn", "flappy", "--env-steps", "10", "--policy", "random", "--hidden", "8", "--refresh-value",
              "--critic-features", "learned", "--out", str(tmp_path)])


def test_learn_pong_with_fixed_critic_features(tmp_path):
    assert main(["learn", "pong", "--observation", "relative", "--env-steps", "200", "--out", str(tmp_path),
                 "--random-episodes", "0", "--hidden", "8", "--critic-features", "fixed", "--refresh-value"]) == 0
    config = json.loads((tmp_path / "result.json").read_text())["config"]
    assert config["critic_features"] == "fixed" and config["refresh_value"] is True
    assert main(["learn", "pong", "--env-steps", "200", "--out", str(tmp_path / "b"), "--random-episodes", "0",
                 "--hidden", "8"]) == 0
    config = json.loads((tmp_path / "b" / "result.json").read_text())["config"]
    assert config["critic_features"] == "learned" and config["refresh_value"] is False


def test_agent_option_choices_match_the_agent():
    """The CLI spells the agent's choices out (importing the agent would cost every CLI call scipy.linalg); they must
    stay the agent's own."""
    import argparse

    from neuromorph.cli import build_parser
    from neuromorph.learning.agents import CRITIC_FEATURES, UNITS

    def subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return action.choices[name]

    for game in ("flappy", "pong"):
        options = {a.dest: a.choices for a in subparser(subparser(build_parser(), "learn"), game)._actions}
        assert tuple(options["unit"]) == UNITS and tuple(options["critic_features"]) == CRITIC_FEATURES
