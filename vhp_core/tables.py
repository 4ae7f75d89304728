"""Tables from the runs' metrics.json files: CSV for machines, Markdown for people."""
import json
from pathlib import Path

import pandas as pd

from vhp_core.io import write_text
from vhp_core.paper import TABLE1_ABS_ERROR


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
        "abs_error_std": [grouped.std(ddof=0).get(m) for m in labels],
        "paper": [TABLE1_ABS_ERROR.get(m) for m in labels],
    })


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
