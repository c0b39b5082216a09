"""The ``neuromorph learn`` subcommand."""
from __future__ import annotations

import pytest

from neuromorph.cli import main


def test_learn_online_prints_both_modes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["learn", "online", "--dataset", "digits", "--epochs", "1", "--train-subset", "64",
                 "--test-subset", "40", "--steps", "4", "--hidden", "16"])
    out = capsys.readouterr().out
    assert code == 0
    assert "bptt   test accuracy" in out and "online test accuracy" in out and "gap (bptt - online)" in out


def test_learn_stdp_small(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["learn", "stdp", "--neurons", "10", "--epochs", "1", "--steps", "4", "--prune", "0.3"])
    out = capsys.readouterr().out
    assert code == 0 and "logistic readout test accuracy" in out and "after pruning 30%" in out


def test_learn_rejects_bad_arguments() -> None:
    with pytest.raises(SystemExit):
        main(["learn", "online", "--epochs", "0"])
    with pytest.raises(SystemExit):
        main(["learn", "online", "--dataset", "cifar"])
