"""Tables from the runs' metrics.json files: CSV for machines, Markdown for people."""
import json
from pathlib import Path

import pandas as pd

from vhp_core.io import write_text
from vhp_core.paper import NOT_COMPARABLE, TABLE1_ABS_ERROR, TABLE2_NLL


def read_metrics(paths: list[str | Path]) -> pd.DataFrame:
    """One row per run, nested keys flattened with dots (ols.abs_error)."""
    return pd.json_normalize([json.loads(Path(p).read_text()) for p in paths])


def table1(metrics: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Mean and std over seeds of the OLS absolute angle error, per method, in the order of `labels`."""
    grouped = metrics.groupby("method")["ols.abs_error"]
    return pd.DataFrame({
        "method": list(labels),
        "label": list(labels.values()),
        "n_seeds": [int(grouped.count().get(m, 0)) for m in labels],
        "abs_error_mean": [grouped.mean().get(m) for m in labels],
        "abs_error_std": [grouped.std(ddof=0).get(m) if grouped.count().get(m, 0) > 1 else None for m in labels],
        "paper": [TABLE1_ABS_ERROR.get(m) for m in labels],
    })


def table2(nll: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Mean and std over seeds of the test NLL per (dataset, method), the paper's value and ours minus
    the paper's; datasets the paper did not use carry a note instead of a paper value."""
    rows = []
    for dataset in dict.fromkeys(nll["dataset"]):
        for method, label in labels.items():
            runs = nll[(nll["dataset"] == dataset) & (nll["method"] == method)]
            paper = TABLE2_NLL.get(method, {}).get(dataset)
            mean = runs["nll"].mean() if len(runs) else None
            rows.append({
                "dataset": dataset, "method": method, "label": label, "n_seeds": len(runs), "nll_mean": mean,
                "nll_std": runs["nll"].std(ddof=0) if len(runs) > 1 else None,
                "samples": int(runs["samples"].iloc[0]) if len(runs) else None,
                "n_test": int(runs["n_items"].iloc[0]) if len(runs) else None,
                "paper_nll": paper, "delta": None if paper is None or mean is None else mean - paper,
                "note": NOT_COMPARABLE.get(dataset, ""),
            })
    return pd.DataFrame(rows)


def active_units_table(metrics: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Active units (App. D.2) per dataset and method: mean over seeds, and the latent size."""
    grouped = metrics.groupby(["dataset", "method"])
    return pd.DataFrame([
        {"dataset": d, "method": m, "label": labels[m], "active_units": g["active_units"].mean(),
         "latent_dim": int(g["latent_dim"].iloc[0])}
        for (d, m), g in grouped if m in labels
    ])


def to_markdown(table: pd.DataFrame, title: str) -> str:
    cols = list(table.columns)

    def fmt(v: object) -> str:
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return ""
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = [f"## {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, csv_path: str | Path, md_path: str | Path, title: str) -> None:
    write_text(csv_path, table.to_csv(index=False))
    write_text(md_path, to_markdown(table, title))
