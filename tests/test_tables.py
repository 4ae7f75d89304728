"""Table 2 from per-run NLLs: means, stds and deltas against the paper, and its plot shows the same numbers."""
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import to_rgba

from vhp_core.report.paper import TABLE1_ABS_ERROR, TABLE2_NLL
from vhp_core.report.plots import table1_strip, table2_figure
from vhp_core.report.tables import read_metrics, table1, table1_display, table2, table2_display, to_markdown

LABELS = {"vhp_rewo": "VHP + REWO", "iwae_l1": "IWAE (L=1)"}


def runs() -> pd.DataFrame:
    """Two seeds of REWO and one of IWAE on dynamic MNIST; one REWO seed on omniglot_small."""
    rows = [("dynamic_mnist", "vhp_rewo", 1, 90.0), ("dynamic_mnist", "vhp_rewo", 2, 94.0),
            ("dynamic_mnist", "iwae_l1", 1, 92.5), ("omniglot_small", "vhp_rewo", 1, 120.0)]
    return pd.DataFrame([{"dataset": d, "method": m, "seed": s, "nll": v, "samples": 5000, "n_items": 2000}
                         for d, m, s, v in rows])


def test_table2_aggregates_seeds_and_compares_with_the_paper():
    table = table2(runs(), LABELS).set_index(["dataset", "method"])
    rewo = table.loc[("dynamic_mnist", "vhp_rewo")]
    assert rewo["n_seeds"] == 2 and rewo["nll_mean"] == 92.0 and rewo["nll_std"] == 2.0
    assert rewo["paper_nll"] == TABLE2_NLL["vhp_rewo"]["dynamic_mnist"]
    assert rewo["delta"] == pytest.approx(92.0 - 78.88)
    assert pd.isna(table.loc[("dynamic_mnist", "iwae_l1"), "nll_std"])  # one seed: no spread
    small = table.loc[("omniglot_small", "vhp_rewo")]
    assert pd.isna(small["paper_nll"]) and pd.isna(small["delta"]) and "not the paper's" in small["note"]
    missing = table.loc[("omniglot_small", "iwae_l1")]
    assert missing["n_seeds"] == 0 and pd.isna(missing["nll_mean"])


def test_table2_figure_plots_our_means_and_the_paper_values():
    table = table2(runs(), LABELS)
    fig = table2_figure(table)
    left, right = fig.axes[:2]
    ours = np.asarray(left.lines[0].get_xdata(), dtype=float)  # the errorbar markers, in table order
    np.testing.assert_allclose(ours, [92.0, 92.5])
    np.testing.assert_allclose(left.collections[-1].get_offsets()[:, 0], [78.88, 81.36])
    rows = {t.get_text(): y for t, y in zip(left.get_yticklabels(), left.get_yticks(), strict=True)}
    assert rows["VHP + REWO"] > rows["IWAE (L=1)"]  # the table's order, top to bottom
    assert "not comparable" in right.get_title() and "not comparable" not in left.get_title()
    assert left.texts[0].get_text() == "92.0 (2 seeds)"
    assert [t.get_text() for t in right.texts] == ["120.0 (1 seed)", "not run"]


T1_LABELS = {"vhp_rewo": "VHP + REWO", "vhp_geco": "VHP + GECO"}


def table1_runs() -> pd.DataFrame:
    """Six REWO seeds and five GECO seeds (seed 6 missing), flattened as read_metrics gives them."""
    rows = [("vhp_rewo", 1, 0.1, 0.05, 1), ("vhp_rewo", 2, 0.8, 0.2, 0), ("vhp_rewo", 3, 0.2, 0.1, 1),
            ("vhp_rewo", 4, 0.3, 0.1, 1), ("vhp_rewo", 5, 0.15, 0.08, 1), ("vhp_rewo", 6, 0.25, 0.12, 1),
            ("vhp_geco", 1, 0.5, 0.15, 1), ("vhp_geco", 2, 1.0, 0.3, 2), ("vhp_geco", 3, 0.6, 0.2, 1),
            ("vhp_geco", 4, 0.7, 0.25, 0), ("vhp_geco", 5, 0.55, 0.18, 1)]
    return pd.DataFrame([{"dataset": "pendulum", "method": m, "seed": s, "ols.abs_error": e, "loop.abs_error": le,
                          "loop.rotation_index": r} for m, s, e, le, r in rows])


def test_table1_gives_spread_loops_and_paired_differences_on_common_seeds():
    table = table1(table1_runs(), T1_LABELS).set_index("method")
    rewo, geco = table.loc["vhp_rewo"], table.loc["vhp_geco"]
    assert rewo["n_seeds"] == 6 and rewo["abs_error_mean"] == pytest.approx(0.3)
    assert rewo["abs_error_median"] == pytest.approx(0.225) and rewo["paper"] == TABLE1_ABS_ERROR["vhp_rewo"]
    assert rewo["abs_error_q25"] == pytest.approx(0.1625) and rewo["abs_error_q75"] == pytest.approx(0.2875)
    assert rewo["clean_loops"] == 5 and geco["clean_loops"] == 3
    assert geco["loop_error_median"] == pytest.approx(0.2)
    assert geco["n_pairs"] == 5 and geco["diff"] == pytest.approx(0.36)  # seeds 1-5 only
    assert 0.2 <= geco["ci_low"] < geco["diff"] < geco["ci_high"] <= 0.4 and geco["within_noise"] is False
    assert geco["reference"] == "vhp_rewo" and pd.isna(rewo["diff"]) and rewo["within_noise"] is None
    assert geco["loop_n_pairs"] == 5 and geco["loop_diff"] == pytest.approx(0.11)  # the loop read-out
    assert geco["loop_ci_low"] == pytest.approx(0.1) and geco["loop_within_noise"] is False
    assert pd.isna(rewo["loop_diff"])


def test_table1_markdown_is_readable_and_names_the_reference():
    md = to_markdown(table1_display(table1(table1_runs(), T1_LABELS)), "Table 1")
    assert "0.300 ± 0.233" in md and "0.225 [0.163, 0.287]" in md and "5 of 6" in md
    assert "OLS error minus VHP + REWO [95% CI]" in md and "| reference |" in md
    geco_row = next(line for line in md.splitlines() if line.startswith("| VHP + GECO"))
    assert "| +0.360 [+0.2" in geco_row and geco_row.endswith("| no | +0.110 [+0.100, +0.130] | no | 1.00 |")
    assert "loop read-out minus VHP + REWO [95% CI]" in md


def with_snapshots(runs: pd.DataFrame, early_ols: dict[str, list[float]],
                   early_index: dict[str, list[int]]) -> pd.DataFrame:
    """The runs with the read-outs of their snapshots at steps 0, 1,000 and 30,000, as evaluate_run writes them."""
    runs = runs.copy()
    counter = {m: iter(zip(early_ols[m], early_index[m], strict=True)) for m in early_ols}
    snaps = []
    for r in runs.itertuples():
        ols, index = next(counter[r.method])
        snaps.append([{"step": 0, "beta": 1e-4, "ols": 1.5, "loop": 1.5, "rotation_index": 0},
                      {"step": 1000, "beta": 0.01, "ols": ols, "loop": ols, "rotation_index": index},
                      {"step": 30000, "beta": 1.0, "ols": 0.1, "loop": 0.1, "rotation_index": 1}])
    runs["snapshots"], runs["steps"] = snaps, 30000
    return runs


def test_table1_says_how_early_each_seeds_loop_took_its_final_shape():
    """REWO's errors at step 1,000 are its final errors halved (same ranks: 1); GECO's reversed (-1)."""
    runs = table1_runs()
    rewo_final = runs[runs["method"] == "vhp_rewo"]["ols.abs_error"].tolist()
    geco_final = runs[runs["method"] == "vhp_geco"]["ols.abs_error"].tolist()
    early = {"vhp_rewo": [e / 2 for e in rewo_final], "vhp_geco": [-e for e in geco_final]}
    index = {"vhp_rewo": [1, 0, 1, 1, 0, 1], "vhp_geco": [1, 1, 1, 0, 1]}  # final: 1 0 1 1 1 1 and 1 2 1 0 1
    table = table1(with_snapshots(runs, early, index), T1_LABELS).set_index("method")
    assert table.loc["vhp_rewo", "early_step"] == 1000 and table.loc["vhp_rewo", "steps"] == 30000
    assert table.loc["vhp_rewo", "early_rank_corr"] == pytest.approx(1.0)
    assert table.loc["vhp_geco", "early_rank_corr"] == pytest.approx(-1.0)
    assert table.loc["vhp_rewo", "early_index_kept"] == 5 and table.loc["vhp_geco", "early_index_kept"] == 4
    md = to_markdown(table1_display(table.reset_index()), "Table 1")
    assert "| OLS error at step 1,000: rank corr. with the end | loop index at step 1,000 as at the end |" in md
    assert md.splitlines()[-1].endswith("| 1.00 | -1.00 | 4 of 5 |")  # GECO: same ranks as REWO's by seed
    plain = to_markdown(table1_display(table1(table1_runs(), T1_LABELS)), "Table 1")
    assert "with the end" not in plain  # runs without snapshots: no such columns


def test_table1_does_not_depend_on_the_order_of_the_metrics_files():
    """The bootstrap resamples positions, so the pairs must come in seed order whatever order the files were read in
    (a glob lists seed10 before seed2)."""
    rng = np.random.default_rng(5)
    runs = pd.DataFrame([{"method": m, "seed": s, "ols.abs_error": e, "loop.abs_error": e / 2, "loop.rotation_index": 1}
                         for m in T1_LABELS for s, e in zip(range(1, 11), rng.uniform(0, 1, 10), strict=True)])
    globbed = runs.sort_values(["method", "seed"], key=lambda c: c.astype(str))  # seed1, seed10, seed2, ...
    pd.testing.assert_frame_equal(table1(globbed, T1_LABELS), table1(runs, T1_LABELS))


def test_table1_names_the_runs_whose_metrics_lack_the_loop_readouts():
    old = table1_runs().drop(columns=["loop.abs_error"])
    with pytest.raises(ValueError, match=r"loop.abs_error.*vhp_rewo/seed1.*--forcerun evaluate"):
        table1(old, T1_LABELS)


def test_table1_strip_plot_shows_every_seed_the_median_and_the_paper():
    fig = table1_strip(table1_runs(), T1_LABELS)
    ols_ax = fig.axes[0]
    scatters = [c for c in ols_ax.collections if isinstance(c, PathCollection)]
    is_paper = [len(c.get_facecolor()) and np.allclose(c.get_facecolor()[0], to_rgba("tab:red")) for c in scatters]
    seeds = np.concatenate([c.get_offsets() for c, p in zip(scatters, is_paper, strict=True) if not p])
    by_method = {m: sorted(y for x, y in seeds if round(x) == m) for m in (0, 1)}
    assert by_method[0] == pytest.approx([0.1, 0.15, 0.2, 0.25, 0.3, 0.8])
    assert by_method[1] == pytest.approx([0.5, 0.55, 0.6, 0.7, 1.0])
    papers = np.concatenate([c.get_offsets() for c, p in zip(scatters, is_paper, strict=True) if p])
    np.testing.assert_allclose(papers, [[0, TABLE1_ABS_ERROR["vhp_rewo"]], [1, TABLE1_ABS_ERROR["vhp_geco"]]])
    medians = [seg[0][1] for c in ols_ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()]
    assert medians == pytest.approx([0.225, 0.6])


def test_table2_pairs_seeds_against_the_first_method():
    table = table2(runs(), LABELS).set_index(["dataset", "method"])
    iwae = table.loc[("dynamic_mnist", "iwae_l1")]
    assert iwae["n_pairs"] == 1 and iwae["diff"] == pytest.approx(2.5) and iwae["within_noise"] is None
    md = to_markdown(table2_display(table2(runs(), LABELS)), "Table 2")
    assert "92.00 ± 2.00" in md and "+13.12" in md and "minus VHP + REWO [95% CI]" in md
    assert "+2.50 (no CI: 1 seed, fewer than 5)" in md


@pytest.mark.fault("files")
def test_a_garbled_metrics_file_is_named(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"method": "vhp_rewo", "seed": 1}')
    bad.write_text('{"method": "vhp_rewo", "se')
    with pytest.raises(ValueError, match=rf"{bad}: not valid JSON"):
        read_metrics([good, bad])


def test_a_table_renders_as_an_html_page_with_its_caption_and_blank_missing_cells():
    from vhp_core.report.tables import to_html

    page = to_html([("Table <1> & more", pd.DataFrame({"method": ["a", "b"], "value": [0.123456, None]})),
                    ("second", pd.DataFrame({"x": [1]}))], "T")
    assert page.startswith("<!DOCTYPE html>") and page.count("<table") == 2
    assert "<caption>Table &lt;1&gt; &amp; more</caption>" in page and "<td>0.123</td>" in page
    assert "<td></td>" in page and "nan" not in page.lower()
