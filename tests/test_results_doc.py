"""docs/results.md's verdicts, from tables built by the table functions on synthetic runs whose answer is
known by construction: a clear winner, no difference at all, a mixed smoothness ordering."""
import re

import numpy as np
import pandas as pd
import pytest

from vhp_core.report import results_doc as doc
from vhp_core.report import tables
from vhp_core.report.tables import sensitivity_table, table1, table2

LABELS = {"vhp_rewo": "VHP + REWO", "vhp_geco": "VHP + GECO", "vhp": "VHP (VAE objective)"}
SEEDS = range(1, 11)


def table1_metrics(errors: dict[str, np.ndarray], loop_errors: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    loop_errors = loop_errors or errors
    return pd.DataFrame([{"method": m, "seed": s, "ols.abs_error": e[i], "loop.abs_error": loop_errors[m][i],
                          "loop.rotation_index": 1 if e[i] < 0.3 else 0}
                         for m, e in errors.items() for i, s in enumerate(SEEDS)])


def noise(seed: int, scale: float = 0.01) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, len(SEEDS))


def test_a_clear_winner_reproduces_the_headline_and_beats_every_method_beyond_the_noise():
    errors = {"vhp_rewo": 0.05 + noise(1), "vhp_geco": 0.5 + noise(2), "vhp": 0.45 + noise(3)}
    verdicts = doc.table1_verdicts(table1(table1_metrics(errors), LABELS))
    assert verdicts[0].startswith("**Headline reproduced.**")
    assert f"median {np.median(errors['vhp_rewo']):.3f}" in verdicts[0] and "paper 0.054" in verdicts[0]
    assert "no method differs" not in verdicts[1] and "within the noise" not in verdicts[1]
    for m in ("vhp_geco", "vhp"):
        diff = np.mean(errors[m] - errors["vhp_rewo"])
        assert f"{LABELS[m]} {diff:+.3f} [" in verdicts[1]
    assert verdicts[1].count("(VHP + REWO lower)") == 2
    assert verdicts[3] == "Clean loops: VHP + REWO 10 of 10, VHP + GECO 0 of 10, VHP (VAE objective) 0 of 10."
    assert verdicts[-1].startswith(f"Ordering by median OLS error: VHP + REWO {np.median(errors['vhp_rewo']):.3f} < "
                                  "VHP (VAE objective)")
    assert verdicts[-1].endswith("the paper's: VHP + REWO 0.054 < VHP (VAE objective) 0.490 < VHP + GECO 0.530.")


def test_table1_says_when_the_loops_take_their_shape_where_snapshots_were_read():
    """Errors at step 1,000: REWO's half its final ones (same ranks), GECO's negated (reversed ranks), the VAE
    objective's squared (same ranks); every loop at step 1,000 is clean but the VAE objective's."""
    errors = {"vhp_rewo": np.linspace(0.12, 0.72, 10), "vhp_geco": np.linspace(0.72, 0.12, 10), "vhp": 0.4 + noise(8)}
    early = {"vhp_rewo": lambda e: e / 2, "vhp_geco": lambda e: -e, "vhp": lambda e: e**2}
    metrics = table1_metrics(errors).assign(steps=30000)
    metrics["snapshots"] = [[{"step": 0, "ols": 1.0, "loop": 1.0, "rotation_index": 0},
                             {"step": 1000, "ols": early[m](e), "loop": e, "rotation_index": int(m != "vhp")}]
                            for m, e in zip(metrics["method"], metrics["ols.abs_error"], strict=True)]
    verdicts = doc.table1_verdicts(table1(metrics, LABELS))
    said = next(v for v in verdicts if v.startswith("When the loops take their shape"))
    assert "at step 1,000 of 30,000" in said
    assert "VHP + REWO 1.00, VHP + GECO -1.00, VHP (VAE objective) 1.00." in said
    assert said.endswith("VHP + REWO 3 of 10, VHP + GECO 3 of 10, VHP (VAE objective) 10 of 10.")
    assert not any(v.startswith("When the loops") for v in doc.table1_verdicts(table1(table1_metrics(errors), LABELS)))


def test_equal_methods_differ_within_the_noise_and_the_headline_is_not_reproduced():
    base = np.linspace(0.1, 0.7, len(SEEDS))
    errors = {"vhp_rewo": base, "vhp_geco": base + noise(4), "vhp": base[::-1]}
    verdicts = doc.table1_verdicts(table1(table1_metrics(errors), LABELS))
    assert verdicts[0].startswith("**Headline not reproduced.**")
    assert f"its median is above {doc.HEADLINE_MEDIAN}" in verdicts[0]
    assert verdicts[1].split(": ", 1)[1].startswith("no method differs from VHP + REWO beyond the noise; within")
    assert ("Per seed, each method's OLS error against VHP + REWO's, rank correlation over seeds: VHP + GECO 1.00, "
            "VHP (VAE objective) -1.00.") in verdicts  # GECO's noise is far smaller than the steps between seeds


def test_a_lower_median_elsewhere_stops_the_headline_even_below_the_threshold():
    errors = {"vhp_rewo": 0.08 + noise(5), "vhp_geco": 0.04 + noise(6), "vhp": 0.5 + noise(7)}
    verdicts = doc.table1_verdicts(table1(table1_metrics(errors), LABELS))
    assert verdicts[0].startswith("**Headline not reproduced.**")
    assert "VHP + GECO has the lowest median" in verdicts[0] and "above" not in verdicts[0]
    diff = np.mean(errors["vhp_geco"] - errors["vhp_rewo"])
    assert f"VHP + GECO {diff:+.3f} [" in verdicts[1] and "(VHP + REWO higher)" in verdicts[1]


def test_too_few_seeds_decide_nothing():
    errors = {"vhp_rewo": np.full(10, 0.05), "vhp_geco": np.full(10, 0.5), "vhp": np.full(10, 0.5)}
    metrics = table1_metrics(errors)
    verdicts = doc.table1_verdicts(table1(metrics[metrics["seed"] <= 3], LABELS))
    assert "too few paired seeds to decide: VHP + GECO and VHP (VAE objective)" in verdicts[1]
    assert "(no interval: 3 seeds)" not in verdicts[1]  # undecided rows are named, not given a direction


def sensitivity_levels() -> list[dict]:
    return [{"factor": "kappa", "value": 8, "dataset": "pendulum", "method": "low", "reference": False},
            {"factor": "kappa", "value": 15, "dataset": "pendulum", "method": "vhp_rewo", "reference": True},
            {"factor": "kappa", "value": 30, "dataset": "pendulum", "method": "high", "reference": False}]


def test_sensitivity_names_the_setting_that_moves_the_error_and_reaches_the_headline():
    errors = {"vhp_rewo": 0.4 + noise(8, 0.1), "low": 0.06 + noise(9), "high": 0.4 + noise(10, 0.1)}
    metrics = table1_metrics(errors).assign(dataset="pendulum")
    verdicts = doc.sensitivity_verdicts(sensitivity_table(metrics, sensitivity_levels(), {}))
    assert verdicts[0].startswith(f"kappa: reference 15 median {np.median(errors['vhp_rewo']):.3f}")
    assert "8: " in verdicts[0] and "**beyond the noise**" in verdicts[0].split("; 30: ")[0]
    assert verdicts[0].split("; 30: ")[1].endswith("within the noise.")
    low = np.median(errors["low"])
    r = sorted(np.corrcoef(errors["vhp_rewo"], errors[m])[0, 1] for m in ("low", "high"))
    assert verdicts[1] == ("**Settings that move the OLS error beyond the noise:** kappa = 8. **Settings with a "
                           f"median at most 0.1 (the paper reports 0.054):** kappa = 8 ({low:.3f}). Per seed, the "
                           f"changed settings' OLS errors against the reference's: r = {r[0]:.2f} to {r[1]:.2f}.")


def test_settings_whose_seeds_keep_their_errors_say_the_seed_decides():
    base = np.linspace(0.05, 1.0, len(SEEDS))
    errors = {"vhp_rewo": base, "low": base + noise(11), "high": base[::-1]}
    table = sensitivity_table(table1_metrics(errors).assign(dataset="pendulum"), sensitivity_levels(), {})
    assert table["seed_correlation"].round(6).tolist()[::2] == [round(np.corrcoef(base, errors["low"])[0, 1], 6), -1.0]
    errors["high"] = base + noise(12)
    table = sensitivity_table(table1_metrics(errors).assign(dataset="pendulum"), sensitivity_levels(), {})
    assert doc.sensitivity_verdicts(table)[1].endswith("so the seed, not these settings, decides it.")


def test_pendulum_paths_agree_with_fig4_where_jumps_match():
    summary = pd.DataFrame({"method": ["VHP + REWO", "VHP + GECO", "IWAE (L=1)"], "jumps": [0, 0, 4],
                            "max_step_deg": [25.1, 30.0, 86.1], "median_step_deg": [15.9, 13.1, 7.9]})
    labels = {"vhp_rewo": "VHP + REWO", "vhp_geco": "VHP + GECO", "iwae_l1": "IWAE (L=1)"}
    verdicts = doc.pendulum_verdicts(summary, labels)
    assert verdicts[0] == "VHP + REWO: smooth (paper: smooth), steps up to 25.1 deg, median 15.9."
    assert verdicts[1].startswith("VHP + GECO: smooth (paper: discontinuous)")
    assert verdicts[2].startswith("IWAE (L=1): 4 jumps (paper: discontinuous)")
    assert verdicts[3] == "Agrees with the paper's Fig. 4 for 2 of 3 methods."


def test_smoothness_orders_by_each_measure_and_counts_seeds():
    rows = []
    for m, factors, normalised in (("REWO", [0.16, 0.12, 0.17], [0.5, 0.4, 0.45]),
                                   ("VampPrior", [0.20, 0.23, 0.26], [0.6, 0.7, 0.65]),
                                   ("IWAE", [0.14, 0.13, 0.14], [0.9, 0.8, 0.85])):
        rows += [{"method": m, "seed": s, "factor": f, "normalised": n, "reconstruction_rms": 0.3,
                  "mean_pose_rms": 1.0} for s, f, n in zip((1, 2, 3), factors, normalised, strict=True)]
    verdicts = doc.smoothness_verdicts(pd.DataFrame(rows))
    assert verdicts[0] == ("By the paper's smoothness factor: IWAE 0.137 < REWO 0.150 < VampPrior 0.230. The paper's "
                           "claim (REWO smoothest) does not hold on the mean; REWO is lower than VampPrior on 3 of 3 "
                           "seeds and lower than IWAE on 1 of 3 seeds.")
    assert verdicts[1].startswith("By the normalised smoothness: REWO 0.450 < VampPrior 0.650 < IWAE 0.850. The "
                                  "paper's claim (REWO smoothest) holds on the mean")
    assert verdicts[2].endswith("a decoder that always outputs the mean pose: 1.000 (smoothness factor 0).")


def test_table2_ranges_against_the_paper_and_names_the_lowest():
    nll = pd.DataFrame([{"dataset": "dynamic_mnist", "method": m, "seed": s, "nll": v + 0.01 * s, "samples": 5000,
                         "n_items": 10000}
                        for m, v in (("vhp_rewo", 80.0), ("vampprior", 82.0)) for s in SEEDS])
    verdicts = doc.table2_verdicts(table2(nll, {"vhp_rewo": "VHP + REWO", "vampprior": "VampPrior"}))
    mean = 80.0 + 0.01 * np.mean(SEEDS)
    low, high = mean - 78.88, mean + 2.0 - 80.42
    assert verdicts == [f"dynamic_mnist (S = 5000, 10000 test items): ours minus paper from {low:+.2f} to "
                        f"{high:+.2f} nats; lowest here VHP + REWO {mean:.2f} (paper: VHP + REWO); paired with "
                        "VHP + REWO: beyond the noise: VampPrior +2.00 [+2.00, +2.00] (VHP + REWO lower)."]


def test_a_section_page_states_its_generation_scale_sources_verdicts_table_and_figures():
    section = doc.Section(markdown="# Table\n\n| a |\n|---|\n| 1 |\n", sources=["results/tables/t.csv"],
                          figures=[doc.page_figure("smoothness", "results/figures/f.png")],
                          scale="pendulum, 300 epochs")
    page = doc.section_page("smoothness", section, ["first", "second"], "2026-12-06, config: medium.yaml")
    assert page.startswith("# CMU mocap smoothness (Figs. 5-7)\n\nGenerated by `snakemake results_doc` "
                           "(2026-12-06, config: medium.yaml). Scale: pendulum, 300 epochs. From "
                           "`results/tables/t.csv`.\n\n- first\n- second\n\n## Table\n")
    assert "![CMU mocap smoothness (Figs. 5-7)](figures/smoothness-f.png)" in page  # from docs/results/


def test_the_index_keeps_every_page_in_order_with_its_own_generation_and_names_what_is_missing():
    """Pages written by different configs (Table 1 at the default scale, Table 2 at medium) stand side by side,
    each with the date and config it came from; a part without a page says how to make it."""
    section = doc.Section(markdown="| a |\n|---|\n| 1 |\n", sources=["t.csv"], figures=[], scale="s")
    pages = {"table2": doc.section_page("table2", section, ["NLL verdict"], "2026-12-07, config: medium.yaml"),
             "table1": doc.section_page("table1", section, ["OLS verdict", "noise verdict"],
                                        "2026-12-06, config: config.yaml")}
    page = doc.index(pages)
    headings = re.findall(r"^## (.+)$", page, re.M)
    assert headings == ["[Table 1: the pendulum's angle read-outs](results/table1.md)",
                        "What Table 1's headline depends on (sensitivity study)",
                        "Graph-based interpolation on the pendulum (Figs. 3-4)", "CMU mocap smoothness (Figs. 5-7)",
                        "[Table 2: test NLL](results/table2.md)"]
    table1 = page.split("## [Table 1")[1].split("\n## ")[0]
    assert "Generated 2026-12-06, config: config.yaml." in table1
    assert "- OLS verdict\n- noise verdict" in table1 and "| a |" not in page
    assert "Generated 2026-12-07, config: medium.yaml.\n\n- NLL verdict" in page
    assert page.count("Not generated yet") == 3 and "`results_doc/sections: [smoothness]`" in page


def test_tagged_pages_stand_beside_the_sections_untagged_page_in_the_index():
    """Two parts of the sensitivity study, one tagged: both pages are listed under the section, the untagged
    one first, each with its own title, link, generation and verdicts; the other sections are untouched."""
    section = doc.Section(markdown="", sources=["t.csv"], figures=[doc.page_figure("sensitivity-nu", "results/f.png")],
                          scale="s")
    assert [doc.page_name("sensitivity"), doc.page_name("sensitivity", "nu")] == ["sensitivity", "sensitivity-nu"]
    assert doc.section_of("sensitivity-nu") == doc.section_of("sensitivity") == "sensitivity"
    tagged = doc.section_page("sensitivity", section, ["nu verdict"], "2026-12-07, config: part3.yaml", tag="nu")
    assert tagged.startswith("# What Table 1's headline depends on (sensitivity study) (nu)\n")
    assert "![What Table 1's headline depends on (sensitivity study) (nu)](figures/sensitivity-nu-f.png)" in tagged
    pages = {"sensitivity-nu": tagged,
             "sensitivity": doc.section_page("sensitivity", section, ["kappa verdict"], "2026-12-06, config: p2.yaml")}
    page = doc.index(pages)
    headings = re.findall(r"^## (.+)$", page, re.M)
    assert headings[1:3] == ["[What Table 1's headline depends on (sensitivity study)](results/sensitivity.md)",
                             "[What Table 1's headline depends on (sensitivity study) (nu)](results/sensitivity-nu.md)"]
    assert "Generated 2026-12-07, config: part3.yaml.\n\n- nu verdict" in page
    assert "Generated 2026-12-06, config: p2.yaml.\n\n- kappa verdict" in page
    assert page.count("Not generated yet") == 4


def test_each_page_keeps_its_own_copy_of_a_figure_that_several_pages_show():
    """Two parts of a study draw the same results/ file one after the other: each page's copy has its own name."""
    copies = {doc.page_figure(doc.page_name("sensitivity", tag), "results/figures/table1_sensitivity.png")
              for tag in (None, "nu", "tau_rod")}
    assert copies == {"figures/sensitivity-table1_sensitivity.png", "figures/sensitivity-nu-table1_sensitivity.png",
                      "figures/sensitivity-tau_rod-table1_sensitivity.png"}


def test_the_index_refuses_a_page_it_did_not_write():
    with pytest.raises(ValueError, match="not a page written by results_doc"):
        doc.index({"table1": "# Table 1\n\nwritten by hand\n"})


@pytest.mark.parametrize("seeds, text", [([1, 2, 3], "3 seeds (1-3)"), ([1, 5], "seeds 1, 5"), ([2], "seed 2")])
def test_seed_lists_read_as_ranges_where_contiguous(seeds, text):
    assert doc._seeds(seeds) == text


def test_a_tables_headings_sit_under_its_section_whatever_their_level():
    assert doc._demoted("# Fig. 7\n\ntext\n\n## Normalised\n", 2) == "## Fig. 7\n\ntext\n\n### Normalised"
    assert doc._demoted("## Table 1\n\n| a |\n", 3) == "### Table 1\n\n| a |"


def test_table2_without_the_papers_method_on_a_dataset_names_the_lowest_and_pairs_nothing():
    nll = pd.DataFrame([{"dataset": d, "method": m, "seed": s, "nll": 90.0 + s, "samples": 100, "n_items": 50}
                        for d, m in (("dynamic_mnist", "vhp_rewo"), ("dynamic_mnist", "vampprior"),
                                     ("static_mnist", "vampprior")) for s in (1, 2)])
    verdicts = doc.table2_verdicts(table2(nll, {"vhp_rewo": "VHP + REWO", "vampprior": "VampPrior"}))
    assert verdicts[1] == ("static_mnist (S = 100, 50 test items): ours minus paper from +7.48 to +7.48 nats; "
                           "lowest here VampPrior 91.50 (paper: VampPrior).")


def _curves(points: dict[tuple[str, int], list[float]], every: int = 5) -> pd.DataFrame:
    return pd.DataFrame([{"dataset": "dynamic_mnist", "method": m, "seed": s, "epoch": every * (i + 1), "nll": v,
                          "samples": 100, "n_items": 1000}
                         for (m, s), values in points.items() for i, v in enumerate(values)])


def test_a_curve_ends_where_every_seed_reached_and_its_slope_is_fitted_over_the_last_third():
    """A line falling 0.2 nats per epoch (seeds 1 nat either side) ends at 92 with slope -2 per 10 epochs; a
    curve whose second seed stopped early ends at that seed's last epoch; a flat one has slope 0."""
    epochs = np.arange(5, 45, 5)
    falling = 100 - 0.2 * epochs
    summary = tables.curve_summary(_curves({
        ("vhp_rewo", 1): list(falling + 1), ("vhp_rewo", 2): list(falling - 1),
        ("vhp_rewo_gated", 1): [90.0] * 8, ("vhp_rewo_gated", 2): [92.0] * 6,
        ("vampprior", 1): [95.0, 91.0]}), {"vhp_rewo": "REWO", "vampprior": "VampPrior", "vhp_rewo_gated": "gated"})
    rewo, vamp, gated = (summary.set_index("method").loc[m] for m in ("vhp_rewo", "vampprior", "vhp_rewo_gated"))
    assert (rewo.last_epoch, rewo.slope_from_epoch) == (40, 30)  # epochs 30-40: the last third of 40
    assert rewo.nll_last == pytest.approx(92.0) and rewo.slope_per_10_epochs == pytest.approx(-2.0)
    assert rewo.gap_to_paper == pytest.approx(92.0 - 78.88)
    assert (gated.last_epoch, gated.nll_last, gated.slope_per_10_epochs) == (30, 91.0, pytest.approx(0.0))
    assert pd.isna(gated.gap_to_paper)  # not in the paper
    assert (vamp.slope_from_epoch, vamp.slope_per_10_epochs) == (5, pytest.approx(-8.0))  # two points: both
    assert list(summary["method"]) == ["vhp_rewo", "vampprior", "vhp_rewo_gated"]  # the labels' order


def test_the_curve_verdict_orders_by_the_last_estimate_and_names_the_curves_still_falling():
    epochs = np.arange(5, 45, 5)
    summary = tables.curve_summary(_curves({("vhp_rewo", 1): list(100 - 0.2 * epochs),
                                            ("vampprior", 1): list(90 - 0.01 * epochs)}),
                                   {"vhp_rewo": "REWO", "vampprior": "VampPrior"})
    table = table2(pd.DataFrame([{"dataset": "dynamic_mnist", "method": m, "seed": 1, "nll": v, "samples": 5000,
                                  "n_items": 10000} for m, v in (("vhp_rewo", 91.0), ("vampprior", 89.0))]),
                   {"vhp_rewo": "REWO", "vampprior": "VampPrior"})
    verdict = doc.verdicts("table2", table, {}, summary)[-1]
    assert verdict == ("dynamic_mnist learning curves (S = 100 on 1000 fixed test items, a looser bound than "
                       "Table 2's, so above it), at epoch 40: VampPrior 89.60 (+9.18 from the paper's), -0.10 per "
                       "10 epochs since epoch 30; REWO 92.00 (+13.12 from the paper's), -2.00 per 10 epochs since "
                       "epoch 30. Still falling by more than 0.5 nats per 10 epochs when training ended: REWO.")
    assert len(doc.verdicts("table2", table, {})) == 1  # no curves recorded: no curve verdict
