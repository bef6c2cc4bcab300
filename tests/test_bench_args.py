"""The benchmark modules import and parse their arguments (run by hand, never timed here)."""

from __future__ import annotations

import pytest

from bench import peers, template_update


def test_template_update_arguments() -> None:
    args = template_update.parse([])
    assert (args.files, args.rounds) == ([100, 10_000], 30)
    assert template_update.parse(["--files", "100", "--rounds", "2"]).files == [100]
    assert len(template_update.workspace(100)) == 100
    with pytest.raises(SystemExit):
        template_update.parse(["--files", "3"])


def test_peers_arguments() -> None:
    args = peers.parse([])
    assert (args.clients, args.workers, args.runs) == (8, 4, 400)
    with pytest.raises(SystemExit):
        peers.parse(["--clients", "0"])
    with pytest.raises(SystemExit):
        peers.parse(["--seconds", "0"])
