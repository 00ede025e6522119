"""The mutation report (bench/mutation.py): what it counts, and what the Performance page shows."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import mutation  # noqa: E402

STATUS = {
    "lstmlib.cell.xǁLSTMCellǁstep__mutmut_1": "killed",
    "lstmlib.cell.xǁLSTMCellǁstep__mutmut_2": "killed",
    "lstmlib.cell.xǁLSTMCellǁstep__mutmut_3": "timeout",
    "lstmlib.cell.xǁLSTMCellǁstep__mutmut_4": "survived",
    "lstmlib.train.x_fraction_within__mutmut_1": "killed",
    "lstmlib.train.x_fraction_within__mutmut_2": "survived",
    "lstmlib.train.x_fraction_within__mutmut_3": "survived",
    "lstmlib.tasks.x_adding__mutmut_1": "no tests",
}
DIFF = "--- a\n+++ b\n x = 0\n-x = 1\n+x = 2"
NOTES = {
    "lstmlib.cell.xǁLSTMCellǁstep__mutmut_4": {"change": "x = 1 → x = 2",
                                               "note": "Equivalent: None is false like False."},
    "lstmlib.train.x_fraction_within__mutmut_2": {"change": "x = 1 → x = 2",
                                                  "note": "Not killed: the tests miss it."},
}


def test_the_score_leaves_out_argued_equivalents_only(monkeypatch):
    monkeypatch.setattr(mutation, "diff", lambda name: DIFF)
    res = mutation.summarize(STATUS, NOTES)
    # killed: 3 kills and a timeout; considered: 8 - 1 equivalent - 1 without tests
    assert res["killed"] == 4 and res["non_equivalent"] == 6
    assert round(res["score_pct"], 3) == round(100 * 4 / 6, 3)
    assert res["not_killed"] == ["lstmlib.train.x_fraction_within__mutmut_2",
                                 "lstmlib.train.x_fraction_within__mutmut_3"]
    assert res["unexplained"] == ["lstmlib.train.x_fraction_within__mutmut_3"]
    assert res["modules"] == ["cell", "tasks", "train"]
    assert res["by_module"]["cell"] == {"mutants": 4, "killed": 3, "equivalent": 1,
                                        "not_killed": 0, "other": 0, "score_pct": 100.0}
    assert res["by_module"]["train"]["not_killed"] == 2
    assert round(res["by_module"]["train"]["score_pct"], 3) == round(100 / 3, 3)
    assert res["by_module"]["tasks"]["score_pct"] is None


def test_the_page_names_the_modules_and_every_survivor(monkeypatch):
    monkeypatch.setattr(mutation, "diff", lambda name: DIFF)
    text = "\n".join(mutation.markdown(mutation.summarize(STATUS, NOTES)))
    assert "on lstmlib (cell, tasks, train)" in text
    assert "| cell | 4 | 3 | 1 | 0 | 100.0% |" in text
    assert "| train | 3 | 1 | 0 | 2 | 33.3% |" in text
    assert "| 8 | 8 | 4 | 1 | 2 | 1 | 66.7% | ≥ 95% |" in text
    for name in ("step__mutmut_4", "fraction_within__mutmut_2", "fraction_within__mutmut_3"):
        assert name in text
    assert "`x = 1 → x = 2`. **not explained**" in text
    assert "Incomplete run" not in text


def test_an_argument_for_another_change_is_stale(monkeypatch):
    # the function changed and mutmut numbered its mutants anew: mutant 4 is now another edit
    monkeypatch.setattr(mutation, "diff", lambda name: "--- a\n+++ b\n-y = 1\n+y = 3")
    res = mutation.summarize(STATUS, NOTES)
    assert res["equivalent"] == 0 and res["non_equivalent"] == 7
    assert res["unexplained"] == [
        "lstmlib.cell.xǁLSTMCellǁstep__mutmut_4", "lstmlib.train.x_fraction_within__mutmut_2",
        "lstmlib.train.x_fraction_within__mutmut_3"]
