"""The benchmark suite runs end to end on tiny sizes and writes the report it promises.

No timing is asserted (timings live in benchmarks/ only): these tests check that every case
runs, checks its results, and that the JSON and Markdown have the expected structure.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks import cases_memory, common, report, suite

TINY = replace(
    common.quick(),
    rows=8,
    classes=64,
    repeats=1,
    slow_repeats=1,
    small_number=2,
    small_shapes=((2, 3),),
    scaling_elements=256,
    scaling_classes=(8, 64),
    scaling_rows=(2, 4),
    mos=(2, 4, 16, 4),
    adaptive=(32, 40, (10, 20), 8),  # tail widths 32 // 4 and 32 // 16: both at least 1
    sparse_shape=(4, 16),
    module_repeats=1,
    threads=(1,),
)

# Everything that runs in-process; the memory probe (a subprocess per implementation) is
# exercised in-process below.
IN_PROCESS = tuple(name for name in suite.DEFAULT if name != "memory")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    return suite.run_suite(TINY, IN_PROCESS, out, "tiny"), out


def test_report_files_and_top_level_keys(tiny_run) -> None:
    _, out = tiny_run
    saved = json.loads((out / "latest.json").read_text())
    expected = {"machine", "command", "config", "timings", "memory", "scaling", "dask", "skipped"}
    assert expected | {"failed"} <= set(saved)
    assert saved["failed"] == []  # every case ran and passed its correctness checks
    assert {"cpu", "cores", "versions"} <= set(saved["machine"])
    assert {"numpy", "numba"} <= set(saved["machine"]["versions"])
    md = (out / "latest.md").read_text()
    assert md.startswith("# npsoftmax benchmarks") and "Machine:" in md


def test_timing_rows_have_times_and_ratios(tiny_run) -> None:
    results, _ = tiny_run
    groups = {r["group"] for r in results["timings"]}
    assert {"forward", "backward", "small"} <= groups
    for r in results["timings"]:
        assert {"case", "shape", "dtype", "threads", "times_s", "ratios"} <= set(r)
        assert r["subject"] in r["times_s"]
        assert set(r["ratios"]) == set(r["times_s"]) - {r["subject"]}
        assert all(t > 0 for t in r["times_s"].values())
    forward = [r for r in results["timings"] if r["case"] == "softmax out="]
    assert {"np.copyto", "parallel copy"} <= set(forward[0]["times_s"])


def test_scaling_points_and_plot_message(tiny_run) -> None:
    results, out = tiny_run
    assert {p["sweep"] for p in results["scaling"]} == {"rows", "classes", "threads"}
    assert "scaling" in results["plot"]
    if "skipped" not in results["plot"]:
        assert "(scaling.png)" in results["plot"]  # a link relative to latest.md, beside it
        assert (out / "scaling.png").stat().st_size > 0


def test_unfinished_modules_are_skipped_with_a_message(tiny_run) -> None:
    results, _ = tiny_run
    for row in results["skipped"]:
        assert row["skipped"]  # a reason, never an empty skip


def test_memory_probe_in_process() -> None:
    found = cases_memory.probe("npsoftmax out=", 4, 32)
    assert found["output_bytes"] == 0
    assert {"input_bytes", "peak_extra_bytes", "tracemalloc_peak_bytes"} <= set(found)
    rows = [{**found, "peak_over_input_plus_output": 1.0}]
    assert "npsoftmax out=" in "\n".join(report._memory_table(rows))


def test_check_rejects_a_wrong_result() -> None:
    want = np.array([0.25, 0.75])
    common.check("exact", want.copy(), want)
    with pytest.raises(AssertionError, match="wrong disagrees with the reference"):
        common.check("wrong", np.array([0.25, 0.76]), want)


def test_unknown_case_and_bad_threads_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown case"):
        suite.run_suite(TINY, ("nope",))
    with pytest.raises(SystemExit):
        suite.main(["--threads", "0", "--only", "small"])


def test_readme_summary_replaces_only_the_marked_section(tiny_run, tmp_path) -> None:
    results, _ = tiny_run
    summary = report.readme_summary(results)
    assert "| case | shape | dtype | threads | npsoftmax |" in summary
    assert results["machine"]["cpu"] in summary
    readme = tmp_path / "README.md"
    before, after = "# title\n\nintro\n\n", "\n\nafter the table\n"
    readme.write_text(f"{before}{report.README_START}\nold table\n{report.README_END}{after}")
    report.update_readme(readme, summary)
    text = readme.read_text()
    assert text.startswith(before + report.README_START)
    assert text.endswith(report.README_END + after)
    assert "old table" not in text and summary in text
    report.update_readme(readme, summary)  # idempotent
    assert readme.read_text() == text


def test_readme_without_markers_is_refused(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no markers here\n")
    with pytest.raises(ValueError, match=r"no .* section to update"):
        report.update_readme(readme, "table")


def test_the_project_readme_has_the_markers() -> None:
    text = suite.README.read_text()
    assert text.count(report.README_START) == 1 and text.count(report.README_END) == 1


def test_interleaved_medians_takes_turns():
    # Peers are timed in turns (A, B, A, B, ...) after their warm-up calls, one median each.
    from benchmarks.timing import interleaved_medians

    calls = []
    times = interleaved_medians(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1
    )
    assert calls == ["a", "b"] + ["a", "b"] * 3
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


def test_block_medians_alternates_blocks_with_an_untimed_first_call():
    # Training steps: A A A A, B B B B, A A A A, B B B B (the first of each block untimed).
    from benchmarks.timing import block_medians

    calls = []
    times = block_medians(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=2, per_block=3
    )
    assert calls == (["a"] * 4 + ["b"] * 4) * 2
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


def test_block_medians_asks_a_remote_peer_for_its_blocks():
    # PyTorch's steps run in a process of their own: block_medians takes its times from there.
    from benchmarks.timing import block_medians

    class Remote:
        def __init__(self) -> None:
            self.asked = []

        def timed_block(self, per_block: int) -> list[float]:
            self.asked.append(per_block)
            return [0.5] * per_block

    calls, remote = [], Remote()
    times = block_medians({"a": lambda: calls.append("a"), "b": remote}, rounds=2, per_block=3)
    assert calls == ["a"] * 8 and remote.asked == [3, 3]
    assert times["b"] == 0.5


def test_torch_steps_run_without_npsoftmax_and_report_their_failures():
    pytest.importorskip("torch")
    from benchmarks.peer import TorchSteps

    x = np.random.default_rng(0).standard_normal((4, 8), dtype=np.float32)
    target = np.array([0, 3, 5, 1])
    with TorchSteps({"model": "mos", "k": 2, "d": 8, "c": 6}, x, target, 1) as theirs:
        assert np.isfinite(theirs.loss)
        assert set(theirs.weights) == {
            "mixture_weights.weight",
            "mixture_weights.bias",
            *(f"softmax_layers.{i}.{p}" for i in range(2) for p in ("weight", "bias")),
        }
        assert not theirs.npsoftmax_loaded  # PyTorch runs as it would without npsoftmax
        with pytest.raises(RuntimeError, match="unknown op"):
            theirs._ask({"op": "probe"})
        assert len(theirs.timed_block(2)) == 2  # and it goes on after a failed request
    with pytest.raises(RuntimeError, match="unknown model"):
        TorchSteps({"model": "nope"}, x, target, 1)
