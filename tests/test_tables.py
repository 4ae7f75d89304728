"""Table 2 from per-run NLLs: means, stds and deltas against the paper, and its plot shows the same numbers."""
import numpy as np
import pandas as pd
import pytest

from vhp_core.paper import TABLE2_NLL
from vhp_core.plots import table2_figure
from vhp_core.tables import table2

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
