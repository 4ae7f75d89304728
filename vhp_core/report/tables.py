"""Tables from the runs' metrics.json files: CSV for machines, Markdown for people."""
import html
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from vhp_core.io import write_text
from vhp_core.maths.statistics import MIN_PAIRS, paired_bootstrap, seed_correlation, spread
from vhp_core.report.paper import NOT_COMPARABLE, TABLE1_ABS_ERROR, paper_nll


def read_metrics(paths: list[str | Path]) -> pd.DataFrame:
    """One row per run, nested keys flattened with dots (ols.abs_error)."""
    return pd.json_normalize([_read_json(Path(p)) for p in paths])


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); delete it and rerun the workflow to recompute it") from exc


def _require(metrics: pd.DataFrame, columns: list[str], what: str) -> None:
    """Stop, naming the runs, when metrics files lack a column an older version did not write."""
    for column in columns:
        missing = metrics[column].isna() if column in metrics else pd.Series(True, index=metrics.index)
        if missing.any():
            runs = ", ".join(f"{r.method}/seed{r.seed}" for r in metrics[missing].itertuples())
            raise ValueError(f"{what}: no '{column}' in the metrics of {runs} (written by an older version of the "
                             "suite): recompute them with `snakemake --forcerun evaluate ...`")


def paired_against_reference(runs: pd.DataFrame, column: str, methods: list[str]) -> dict[str, dict]:
    """Per method, the paired bootstrap of `column` minus the first method's (the paper's method) on the
    seeds both have; the reference itself gets no comparison."""
    by_seed = {m: runs[runs["method"] == m].set_index("seed")[column] for m in methods}
    reference = by_seed[methods[0]]
    out = {}
    for m in methods[1:]:
        seeds = reference.index.intersection(by_seed[m].index).sort_values()  # in seed order, whatever the files'
        out[m] = paired_bootstrap((by_seed[m][seeds] - reference[seeds]).to_numpy())
    return out


def _readouts(runs: pd.DataFrame) -> dict:
    """Table 1's read-outs over one setting's seeds: the OLS error's and the arc-length read-out's
    spread, and the seeds with one clean loop."""
    return {"n_seeds": len(runs), **{f"abs_error_{k}": v for k, v in spread(runs["ols.abs_error"]).items()},
            "clean_loops": int((runs["loop.rotation_index"] == 1).sum()),
            **{f"loop_error_{k}": v for k, v in spread(runs["loop.abs_error"]).items()}}


def _early_shape(runs: pd.DataFrame) -> dict:
    """When a seed's loop takes the shape it ends with: at the first snapshot step after 0 (the same for
    every seed), the rank correlation over seeds of the OLS error there with the final one (1: the seeds
    are already ranked as at the end) and the seeds whose rotation index is already the final one. Empty
    when the runs recorded no snapshot after step 0."""
    empty = {"early_step": None, "steps": None, "early_rank_corr": None, "early_index_kept": None}
    if "snapshots" not in runs:
        return empty
    early = [next((s for s in snaps if s["step"] > 0), None) if isinstance(snaps, list) else None
             for snaps in runs["snapshots"]]
    if not early or any(e is None for e in early) or len({e["step"] for e in early}) > 1:
        return empty
    ols = pd.Series([e["ols"] for e in early], index=runs.index)
    kept = sum(e["rotation_index"] == final for e, final in zip(early, runs["loop.rotation_index"], strict=True))
    return {"early_step": early[0]["step"], "steps": int(runs["steps"].max()) if "steps" in runs else None,
            "early_rank_corr": seed_correlation(ols, runs["ols.abs_error"], ranks=True), "early_index_kept": kept}


def _comparison_columns(comparison: dict | None, reference: str) -> dict:
    empty = {"n_pairs": None, "diff": None, "ci_low": None, "ci_high": None, "within_noise": None}
    return {"reference": reference, **(empty if comparison is None else comparison)}


def table1(metrics: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Per method, in the order of `labels`: the OLS angle error's spread over seeds beside the paper's
    value; the seeds whose loop is one clean loop (rotation index 1) and the arc-length read-out's
    spread; and the paired differences of both errors from the first method with their bootstrap 95% CIs
    (columns `diff`, `ci_low`, ... for the OLS error, the same prefixed `loop_` for the arc-length read-out);
    the rank (Spearman) correlation over seeds of each method's OLS error with the first method's on the seeds
    both have (`seed_rank_corr`: near 1 when the seed, not the method, decides which seeds do well); and how
    early each seed's loop took its final shape (`_early_shape`)."""
    _require(metrics, ["ols.abs_error", "loop.abs_error", "loop.rotation_index"], "Table 1")
    methods = list(labels)
    comparisons = paired_against_reference(metrics, "ols.abs_error", methods)
    loop_comparisons = paired_against_reference(metrics, "loop.abs_error", methods)
    by_seed = {m: metrics[metrics["method"] == m].set_index("seed")["ols.abs_error"] for m in methods}
    rows = []
    for m in methods:
        runs = metrics[metrics["method"] == m]
        loop = _comparison_columns(loop_comparisons.get(m), methods[0])
        rows.append({"method": m, "label": labels[m], "paper": TABLE1_ABS_ERROR.get(m), **_readouts(runs),
                     **_comparison_columns(comparisons.get(m), methods[0]),
                     **{f"loop_{k}": v for k, v in loop.items() if k != "reference"},
                     "seed_rank_corr": (None if m == methods[0]
                                        else seed_correlation(by_seed[m], by_seed[methods[0]], ranks=True)),
                     **_early_shape(runs)})
    return pd.DataFrame(rows)


def sensitivity_table(metrics: pd.DataFrame, levels: list[dict], labels: dict[str, str]) -> pd.DataFrame:
    """One row per setting of the sensitivity study (`config.sensitivity_levels`): Table 1's read-outs
    over its seeds, its OLS error's paired difference from its factor's reference setting, and the Pearson
    correlation of the two settings' per-seed OLS errors (`seed_correlation`: near 1 when each seed keeps its
    error whatever the setting; NaN below 3 pairs)."""
    _require(metrics, ["ols.abs_error", "loop.abs_error", "loop.rotation_index"], "sensitivity")

    settings = [metrics[(metrics["dataset"] == level["dataset"]) & (metrics["method"] == level["method"])]
                for level in levels]
    references = {level["factor"]: runs.set_index("seed")["ols.abs_error"]
                  for level, runs in zip(levels, settings, strict=True) if level["reference"]}
    rows = []
    for level, runs in zip(levels, settings, strict=True):
        here, reference = runs.set_index("seed")["ols.abs_error"], references[level["factor"]]
        seeds = here.index.intersection(reference.index).sort_values()
        comparison = None if level["reference"] else paired_bootstrap((here[seeds] - reference[seeds]).to_numpy())
        correlation = float("nan") if level["reference"] else seed_correlation(here, reference)
        rows.append({
            "factor": level["factor"], "value": level["value"], "dataset": level["dataset"],
            "method": level["method"], "label": labels.get(level["method"], level["method"]),
            "is_reference": level["reference"], **_readouts(runs),
            **{k: v for k, v in _comparison_columns(comparison, "").items() if k != "reference"},
            "seed_correlation": correlation,
        })
    return pd.DataFrame(rows)


def sensitivity_display(table: pd.DataFrame) -> pd.DataFrame:
    """The sensitivity table for people, in the form of Table 1's."""
    return pd.DataFrame({
        "factor": table["factor"], "value": [f"{v} (reference)" if r else str(v)
                                             for v, r in zip(table["value"], table["is_reference"], strict=True)],
        "seeds": table["n_seeds"],
        "OLS error, median [IQR]": [_median_iqr(r.abs_error_median, r.abs_error_q25, r.abs_error_q75)
                                    for r in table.itertuples()],
        "clean loops": [f"{r.clean_loops} of {r.n_seeds}" for r in table.itertuples()],
        "loop read-out error, median [IQR]": [_median_iqr(r.loop_error_median, r.loop_error_q25, r.loop_error_q75)
                                              for r in table.itertuples()],
        "OLS error minus reference [95% CI]": [
            difference_text(r, 3, r["is_reference"]) for _, r in table.iterrows()],
        "within noise": [_noise(r) for _, r in table.iterrows()],
        "per-seed r with reference": [number_text(v, 2) for v in table["seed_correlation"]],
    })


def table2(nll: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Mean and std over seeds of the test NLL per (dataset, method), the paper's value and ours minus
    the paper's (datasets the paper did not use carry a note instead), and each method's paired
    difference from the first method on the same seeds with its bootstrap 95% CI."""
    methods = list(labels)
    rows = []
    for dataset in dict.fromkeys(nll["dataset"]):
        here = nll[nll["dataset"] == dataset]
        comparisons = paired_against_reference(here, "nll", methods)
        for method, label in labels.items():
            runs = here[here["method"] == method]
            paper = paper_nll(method, dataset)
            mean = runs["nll"].mean() if len(runs) else None
            rows.append({
                "dataset": dataset, "method": method, "label": label, "n_seeds": len(runs), "nll_mean": mean,
                "nll_std": runs["nll"].std(ddof=0) if len(runs) > 1 else None,
                "samples": int(runs["samples"].iloc[0]) if len(runs) else None,
                "n_test": int(runs["n_items"].iloc[0]) if len(runs) else None,
                "paper_nll": paper, "delta": None if paper is None or mean is None else mean - paper,
                "note": NOT_COMPARABLE.get(dataset, ""),
                **_comparison_columns(comparisons.get(method), methods[0]),
            })
    return pd.DataFrame(rows)


CURVE_TAIL = 1 / 3
"""The final share of training over which a learning curve's recent slope is fitted (at least its last two points)."""


CURVE_COLUMNS = ["dataset", "method", "label", "n_seeds", "samples", "n_items", "last_epoch", "nll_last", "paper_nll",
                 "gap_to_paper", "slope_from_epoch", "slope_per_10_epochs"]


def curve_summary(curves: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Where each (dataset, method)'s learning curve ended and how fast it was still falling: the cheap NLL
    estimate (mean over seeds) at the last epoch all seeds reached, the paper's value and the gap to it, and the
    least-squares slope over the final third of the epochs, in nats per 10 epochs (negative: still falling)."""
    rows = []
    curves = curves.dropna(subset=["nll"])
    for dataset in dict.fromkeys(curves["dataset"]):
        for method, label in labels.items():
            runs = curves[(curves["dataset"] == dataset) & (curves["method"] == method)]
            if runs.empty:
                continue
            last = int(runs.groupby("seed")["epoch"].max().min())
            mean = runs[runs["epoch"] <= last].groupby("epoch")["nll"].mean()
            tail = mean[mean.index >= last * (1 - CURVE_TAIL)]
            tail = tail if len(tail) >= 2 else mean.iloc[-2:]
            slope = 10 * float(np.polyfit(tail.index.to_numpy(float), tail.to_numpy(), 1)[0]) if len(tail) > 1 else None
            paper = paper_nll(method, dataset)
            rows.append([dataset, method, label, runs["seed"].nunique(), int(runs["samples"].iloc[0]),
                         int(runs["n_items"].iloc[0]), last, float(mean.loc[last]), paper,
                         None if paper is None else float(mean.loc[last]) - paper, int(tail.index[0]), slope])
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def active_units_table(metrics: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Active units (App. D.2) per dataset and method: mean over seeds, and the latent size."""
    grouped = metrics.groupby(["dataset", "method"])
    return pd.DataFrame([
        {"dataset": d, "method": m, "label": labels[m], "active_units": g["active_units"].mean(),
         "latent_dim": int(g["latent_dim"].iloc[0])}
        for (d, m), g in grouped if m in labels
    ])


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and pd.isna(v))


def number_text(v: object, digits: int = 3, sign: bool = False) -> str:
    """`v` to `digits` decimals (signed if `sign`), empty where missing."""
    return "" if _missing(v) else f"{v:{'+' if sign else ''}.{digits}f}"


def _mean_std(mean: object, std: object, digits: int = 3) -> str:
    if _missing(mean):
        return ""
    return number_text(mean, digits) + ("" if _missing(std) else f" ± {number_text(std, digits)}")


def _median_iqr(median: object, q25: object, q75: object) -> str:
    return "" if _missing(median) else f"{number_text(median)} [{number_text(q25)}, {number_text(q75)}]"


def difference_text(row: pd.Series, digits: int, is_reference: bool = False, prefix: str = "") -> str:
    """The paired difference (columns named with `prefix`) and its CI, 'reference' on the reference's own row."""
    if is_reference:
        return "reference"
    if _missing(row[f"{prefix}diff"]):
        return ""
    diff, low, high = (number_text(row[f"{prefix}{k}"], digits, sign=True) for k in ("diff", "ci_low", "ci_high"))
    if _missing(row[f"{prefix}ci_low"]):
        n = int(row[f"{prefix}n_pairs"])
        return f"{diff} (no CI: {n} seed{'s' * (n != 1)}, fewer than {MIN_PAIRS})"
    return f"{diff} [{low}, {high}]"


def _noise(row: pd.Series, prefix: str = "") -> str:
    value = row[f"{prefix}within_noise"]
    return "" if value is None or _missing(value) else ("yes" if value else "no")


def table1_display(table: pd.DataFrame) -> pd.DataFrame:
    """Table 1 for people: spreads as 'mean ± std' and 'median [q25, q75]', the paired difference from
    the reference with its 95% CI, and whether that difference is within noise; where the runs recorded
    snapshots, how early the seeds' loops took their final shape."""
    ref = table["label"].iloc[0]
    shown = pd.DataFrame({
        "method": table["label"], "seeds": table["n_seeds"],
        "OLS error, mean ± std": [_mean_std(r.abs_error_mean, r.abs_error_std) for r in table.itertuples()],
        "OLS error, median [IQR]": [_median_iqr(r.abs_error_median, r.abs_error_q25, r.abs_error_q75)
                                    for r in table.itertuples()],
        "paper": [number_text(v) for v in table["paper"]],
        "clean loops": [f"{r.clean_loops} of {r.n_seeds}" for r in table.itertuples()],
        "loop read-out error, median [IQR]": [_median_iqr(r.loop_error_median, r.loop_error_q25, r.loop_error_q75)
                                              for r in table.itertuples()],
        f"OLS error minus {ref} [95% CI]": [difference_text(r, 3, r["method"] == r["reference"])
                                            for _, r in table.iterrows()],
        "within noise": [_noise(r) for _, r in table.iterrows()],
        f"loop read-out minus {ref} [95% CI]": [difference_text(r, 3, r["method"] == r["reference"], "loop_")
                                                for _, r in table.iterrows()],
        "within noise (loop)": [_noise(r, "loop_") for _, r in table.iterrows()],
        f"OLS error's rank corr. with {ref} over seeds": [
            "reference" if r["method"] == r["reference"] else number_text(r["seed_rank_corr"], 2)
            for _, r in table.iterrows()],
    })
    steps = table["early_step"].dropna().unique() if "early_step" in table else []
    if len(steps) == 1:
        step = f"{int(steps[0]):,}"
        shown[f"OLS error at step {step}: rank corr. with the end"] = [number_text(v, 2)
                                                                      for v in table["early_rank_corr"]]
        shown[f"loop index at step {step} as at the end"] = [
            "" if _missing(r.early_index_kept) else f"{int(r.early_index_kept)} of {r.n_seeds}"
            for r in table.itertuples()]
    return shown


def table2_display(table: pd.DataFrame) -> pd.DataFrame:
    """Table 2 for people: NLL 'mean ± std' beside the paper's, and the paired difference from the
    reference method on the same seeds with its 95% CI and whether it is within noise."""
    ref = table["label"].iloc[0]
    return pd.DataFrame({
        "dataset": table["dataset"], "method": table["label"], "seeds": table["n_seeds"],
        "test NLL, mean ± std": [_mean_std(r.nll_mean, r.nll_std, 2) for r in table.itertuples()],
        "paper": [number_text(v, 2) for v in table["paper_nll"]],
        "ours minus paper": [number_text(v, 2, sign=True) for v in table["delta"]],
        f"minus {ref} [95% CI]": [difference_text(r, 2, r["method"] == r["reference"]) for _, r in table.iterrows()],
        "within noise": [_noise(r) for _, r in table.iterrows()],
        "note": table["note"],
    })


def markdown_rows(frame: pd.DataFrame, digits: int = 3) -> list[str]:
    """The lines of a Markdown table of `frame`: numbers to `digits` decimals, missing values blank."""
    def fmt(v: object) -> str:
        if _missing(v):
            return ""
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    return lines + ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]


def to_markdown(table: pd.DataFrame, title: str) -> str:
    return "\n".join([f"## {title}", "", *markdown_rows(table)]) + "\n"


HTML_STYLE = ("body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;font-size:14px}"
              "th,td{border:1px solid #bbb;padding:4px 8px;text-align:right}th{background:#eee}"
              "td:first-child,th:first-child{text-align:left}caption{font-weight:bold;margin:0.5em 0;text-align:left}")


def to_html(sections: list[tuple[str, pd.DataFrame]], title: str) -> str:
    """A standalone HTML page of tables (one per (caption, table) section), for the Snakemake report."""
    body = "".join(
        re.sub(r"<table[^>]*>", lambda m, c=caption: f"{m.group(0)}<caption>{html.escape(c)}</caption>",
               table.to_html(index=False, na_rep="", border=0, float_format=lambda v: f"{v:.3f}"), count=1)
        for caption, table in sections)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{HTML_STYLE}</style></head><body>{body}</body></html>\n")


def write_table(table: pd.DataFrame, csv_path: str | Path, md_path: str | Path, title: str,
                display: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                html_path: str | Path | None = None) -> None:
    """The table as CSV (every column, for machines), and Markdown and HTML (`display(table)` if given, for
    people: the HTML is what the Snakemake report shows)."""
    shown = table if display is None else display(table)
    write_text(csv_path, table.to_csv(index=False))
    write_text(md_path, to_markdown(shown, title))
    if html_path is not None:
        write_text(html_path, to_html([(title, shown)], title))
