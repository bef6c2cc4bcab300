"""Three-way text merge and the preview's diffs (``bifrost.github.merge``)."""

from __future__ import annotations

import pytest

from bifrost.github.merge import merge, unified_diff

BASE = b"one\ntwo\nthree\nfour\nfive\n"


def test_edits_of_different_lines_merge_cleanly() -> None:
    local = b"ONE\ntwo\nthree\nfour\nfive\n"
    remote = b"one\ntwo\nthree\nfour\nFIVE\nsix\n"
    assert merge(BASE, local, remote) == b"ONE\ntwo\nthree\nfour\nFIVE\nsix\n"


def test_the_same_edit_on_both_sides_is_taken_once() -> None:
    both = b"one\nTWO\nthree\nfour\nfive\n"
    assert merge(BASE, both, both) == both


def test_overlapping_edits_do_not_merge() -> None:
    assert merge(BASE, b"one\nTWO\nthree\nfour\nfive\n", b"one\n2\nthree\nfour\nfive\n") is None


def test_one_side_deleting_lines_the_other_kept_merges() -> None:
    local = b"one\nthree\nfour\nfive\n"
    remote = b"one\ntwo\nthree\nfour\nfive!\n"
    assert merge(BASE, local, remote) == b"one\nthree\nfour\nfive!\n"


def test_bytes_are_kept_exactly_crlf_and_a_missing_last_newline_included() -> None:
    base = b"a\r\nb\r\nc"
    assert merge(base, b"A\r\nb\r\nc", b"a\r\nb\r\nC") == b"A\r\nb\r\nC"
    assert merge(b"x\ry\n", b"x\ry\nz\n", b"w\nx\ry\n") == b"w\nx\ry\nz\n"  # a CR is no line end


@pytest.mark.parametrize(
    "binary",
    [b"one\ntwo\0\nthree\nfour\nfive\n", b"one\ntwo\xff\nthree\nfour\nfive\n"],
    ids=["nul", "not-utf8"],
)
def test_binary_content_is_never_merged_nor_diffed(binary: bytes) -> None:
    edited = b"ONE\ntwo\nthree\nfour\nfive\n"
    assert merge(binary, edited, BASE) is None
    assert merge(BASE, binary, edited) is None
    assert merge(BASE, edited, binary) is None
    assert unified_diff("f.bin", binary, BASE, old_side="local", new_side="remote") is None
    assert unified_diff("f.bin", BASE, binary, old_side="local", new_side="remote") is None


def test_a_unified_diff_names_both_sides() -> None:
    diff = unified_diff("w/x.py", b"a\nb\n", b"a\nB\n", old_side="local", new_side="remote")
    assert diff == "--- local/w/x.py\n+++ remote/w/x.py\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n"
    assert unified_diff("x", b"same\n", b"same\n", old_side="local", new_side="merged") == ""


def test_a_last_line_without_newline_is_marked() -> None:
    diff = unified_diff("x", b"a\nb", b"a\nc\n", old_side="local", new_side="remote")
    assert diff is not None
    assert diff.splitlines()[-3:] == ["-b", "\\ No newline at end of file", "+c"]
