"""The smoke-scale DAG runs end to end in a temporary folder and fills Table 1, the figures, the
report and (with the data mirror) Table 2; `snakemake --lint` has nothing to say; and the shipped SLURM
profile, on a real single-node SLURM, gives the same tables."""
import base64
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from vhp_core.report.paper import TABLE1_ABS_ERROR
from vhp_core.runs.config import load_config

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("workflow")
    for name in ("Snakefile", "environment.yml"):
        shutil.copy(ROOT / name, work)
    shutil.copytree(ROOT / "workflow", work / "workflow")
    return work


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, "--cores", "2", *args, "--configfile", "workflow/config/smoke.yaml"],
                          cwd=workdir, capture_output=True, text=True)


def test_smoke_dag_table1_figures_and_report(workdir):
    run = snakemake(workdir, "pendulum")
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_csv(workdir / "results" / "tables" / "table1.csv")
    assert list(table["method"]) == list(TABLE1_ABS_ERROR)
    assert (table["n_seeds"] == 2).all() and (table["n_pairs"].iloc[1:] == 2).all()
    for column in ("abs_error_mean", "abs_error_median", "loop_error_mean"):
        assert table[column].between(0, 3.1416).all(), column
    assert table["clean_loops"].between(0, 2).all() and table["ci_low"].isna().all()  # 2 seeds: no interval
    assert table["paper"].tolist() == list(TABLE1_ABS_ERROR.values())
    assert "| VHP + REWO | 2 |" in (workdir / "results" / "tables" / "table1.md").read_text()
    metrics = json.loads((workdir / "results" / "pendulum" / "vhp_rewo" / "seed1" / "metrics.json").read_text())
    assert [s["step"] for s in metrics["snapshots"]] == [0, 10, 20, 40]  # smoke.yaml's snapshot steps
    assert (table["early_step"] == 10).all() and table["early_index_kept"].between(0, 2).all()
    assert "OLS error at step 10: rank corr. with the end" in (workdir / "results" / "tables" / "table1.md").read_text()
    for name in ("fig1_beta_landscape", "fig2_training_dynamics", "table1_seeds"):
        for ext in ("png", "pdf"):
            assert (workdir / "results" / "figures" / f"{name}.{ext}").stat().st_size > 10_000
    report = snakemake(workdir, "pendulum", "--report", "results/report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    assert "Table 1" in (workdir / "results" / "report.html").read_text()


def embedded_html(report: Path) -> dict[str, str]:
    """The HTML results a Snakemake report embeds, by file name."""
    found = re.findall(r"data:text/html;charset=utf8;filename=([^;]+);base64,([A-Za-z0-9+/=]+)", report.read_text())
    return {name: base64.b64decode(data).decode() for name, data in found}


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian package chromium)")
def test_the_report_shows_the_tables_as_html_tables_in_a_real_browser(workdir, tmp_path):
    """The report embeds Table 1 and the interpolation table as HTML pages; headless Chromium renders the
    report and each of them, and the rendered Table 1 has one row per method with the paper's column."""
    report = workdir / "results" / "report.html"
    pages = embedded_html(report)
    assert {"table1.html", "pendulum_interpolation.html"} <= set(pages)
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,900"]
    shot = tmp_path / "report.png"
    subprocess.run([*browser, f"--screenshot={shot}", report.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 20_000  # the report's landing page, drawn (a blank page is about 5 kB)
    for name, page in pages.items():
        path = tmp_path / name
        path.write_text(page)
        subprocess.run([*browser, f"--screenshot={tmp_path / name}.png", path.as_uri()], capture_output=True,
                       timeout=120, check=True)
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000, name
        dom = subprocess.run([*browser, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120,
                             check=True).stdout
        assert "<table" in dom and "<th>" in dom, name
    dom = subprocess.run([*browser, "--dump-dom", (tmp_path / "table1.html").as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    rows = re.findall(r"<tr>\s*<td>([^<]+)</td>", dom)
    assert rows == list(pd.read_csv(workdir / "results" / "tables" / "table1.csv")["label"])
    assert "<th>paper</th>" in dom


def test_nothing_left_to_do_after_a_run(workdir):
    """Also after a change of `runtime`, which says how a run is carried out (log rows, checkpoints, compiling),
    never what it computes: Snakemake does not track it, so finished jobs are not run again."""
    dry = snakemake(workdir, "pendulum", "--dry-run")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
    changed_runtime = "runtime: {log_every: 7, checkpoint_minutes: 3, compile: [pendulum]}\n"
    (workdir / "runtime_changed.yaml").write_text(changed_runtime)
    changed = subprocess.run([*SNAKEMAKE, "--cores", "2", "pendulum", "--dry-run", "--configfile",
                              "workflow/config/smoke.yaml", "runtime_changed.yaml"], cwd=workdir, capture_output=True,
                             text=True)
    assert changed.returncode == 0 and "Nothing to be done" in changed.stdout + changed.stderr, changed.stdout[-2000:]


KILL_AT_RENAME = """\
import os, signal, sys
if any(arg.endswith(".table1.py") and ".snakemake" in arg for arg in sys.argv):  # the table1 job's script
    _replace, _count = os.replace, [0]

    def _kill_before_rename(src, dst, *args, **kwargs):
        _count[0] += 1
        if _count[0] == int(os.environ["KILL_AT_RENAME"]):
            os.killpg(0, signal.SIGKILL)  # the job and Snakemake with it: nothing gets to clean up
        return _replace(src, dst, *args, **kwargs)

    os.replace = _kill_before_rename
"""
TABLE1_FILES = ["tables/table1.csv", "tables/table1.md", "tables/table1.html", "figures/table1_seeds.png",
                "figures/table1_seeds.pdf"]


def complete(path: Path) -> bool:
    """A figure file is whole: PNG's closing IEND chunk, PDF's %%EOF."""
    data = path.read_bytes()
    return data.endswith(b"IEND\xaeB`\x82") if path.suffix == ".png" else data.rstrip().endswith(b"%%EOF")


@pytest.mark.fault("interruption")
@pytest.mark.parametrize("kill_at", [2, 5])
def test_a_kill_while_table1_is_written_leaves_no_partial_file_and_the_rerun_gives_the_same_table(
        workdir, tmp_path, kill_at):
    """kill -9 of Snakemake and the table job as the job renames its k-th finished file into place (of
    five): every file left is whole, and the rerun writes the tables of an uninterrupted run, byte for byte."""
    assert snakemake(workdir, "table1").returncode == 0  # nothing to do after the smoke DAG above (not so with -m)
    results = workdir / "results"
    reference = {name: (results / name).read_bytes() for name in TABLE1_FILES[:3]}
    (tmp_path / "sitecustomize.py").write_text(KILL_AT_RENAME)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "KILL_AT_RENAME": str(kill_at)}
    killed = subprocess.run([*SNAKEMAKE, "--cores", "1", "table1", "--forcerun", "table1", "--configfile",
                             "workflow/config/smoke.yaml"], cwd=workdir, env=env, capture_output=True, text=True,
                            start_new_session=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    for name in TABLE1_FILES:
        path = results / name
        if path.exists():  # renamed into place before the kill: whole, and the uninterrupted run's
            assert reference.get(name, path.read_bytes()) == path.read_bytes() and (
                    path.suffix not in (".png", ".pdf") or complete(path)), name
    left = [p.name for p in (results / "tables").iterdir()] + [p.name for p in (results / "figures").iterdir()]
    assert [name for name in left if name.startswith(".") and not name.endswith(".tmp")] == []
    assert snakemake(workdir, "--unlock").returncode == 0  # what Snakemake asks for after a kill -9
    rerun = snakemake(workdir, "table1", "--rerun-incomplete")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert {name: (results / name).read_bytes() for name in TABLE1_FILES[:3]} == reference
    assert all(complete(results / name) for name in TABLE1_FILES[3:])


def test_packed_dag_gives_table1_of_the_unpacked_one(workdir, tmp_path):
    """pack = 10 trains Table 1's ten smoke runs (5 methods x 2 seeds) as one job and publishes the same
    files; Table 1 agrees with the one-run-per-job DAG above within float tolerance (packing is a speed
    choice: batched and single matrix products round differently)."""
    packed = tmp_path / "packed"
    shutil.copytree(workdir / "workflow", packed / "workflow")
    for name in ("Snakefile", "environment.yml"):
        shutil.copy(workdir / name, packed)
    run = snakemake(packed, "table1", "--config", "pack=10")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "train_pendulum__pack0" in run.stdout + run.stderr
    ours = pd.read_csv(packed / "results" / "tables" / "table1.csv")
    theirs = pd.read_csv(workdir / "results" / "tables" / "table1.csv")
    assert ours[["method", "label", "n_seeds"]].equals(theirs[["method", "label", "n_seeds"]])
    assert ours["abs_error_mean"].tolist() == pytest.approx(theirs["abs_error_mean"].tolist(), rel=1e-3, abs=1e-4)
    run_dir = Path("results/pendulum/vhp_rewo/seed2")
    assert sorted(p.name for p in (packed / run_dir).iterdir()) == sorted(p.name for p in (workdir / run_dir).iterdir())


def test_lint_is_clean():
    lint = subprocess.run([*SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Lints for" not in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    snakefmt = Path(sys.executable).parent / "snakefmt"
    files = ["Snakefile", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "workflow" / "rules").glob("*.smk"))]
    formatted = subprocess.run([str(snakefmt), "--check", *files], cwd=ROOT, capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_the_workflow_is_usable_as_a_snakemake_module(tmp_path):
    """Another workflow imports this one with `module` (the README's example) and plans Table 1 from it."""
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"```python\n(configfile:.*?module vhp:.*?)```", readme, re.S).group(1)
    (tmp_path / "Snakefile").write_text(example.replace("path/to/vhp-bench", str(ROOT)))
    dry = subprocess.run([*SNAKEMAKE, "--cores", "2", "--dry-run", "vhp_table1"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "vhp_train_pendulum__pack0" in dry.stdout and "vhp_table1" in dry.stdout


MIRROR = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not MIRROR.exists(), reason=f"the data mirror {MIRROR} is not on this machine")
def test_smoke_dag_table2_fills_every_cell(workdir):
    run = subprocess.run([*SNAKEMAKE, "--cores", "2", "table2", "table2_curves", "--configfile",
                          "workflow/config/smoke.yaml"],
                         cwd=workdir, capture_output=True, text=True,
                         env={**os.environ, "VHP_DATA_MIRROR": str(MIRROR)})
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_csv(workdir / "results" / "tables" / "table2.csv")
    configs = workdir / "workflow" / "config"
    config = load_config(configs / "config.yaml", configs / "smoke.yaml")["tables"]["table2"]
    assert len(table) == len(config["datasets"]) * len(config["methods"]) and "omniglot" not in config["datasets"]
    assert (table["n_seeds"] == 1).all() and table["nll_mean"].notna().all()
    assert table["nll_mean"].between(50, 2000).all()
    comparable = table["dataset"] != "omniglot_small"
    paper = table["method"].isin(["vhp_rewo", "vhp_geco", "vampprior", "iwae_l1", "iwae_l2"])
    assert table.loc[comparable & paper, "paper_nll"].notna().all()
    assert table.loc[~comparable, "note"].str.contains("not the paper's").all()
    units = pd.read_csv(workdir / "results" / "tables" / "active_units.csv")
    assert len(units) == len(table) and (units["active_units"] <= units["latent_dim"]).all()
    for name in ("table2_nll", "table2_curves"):
        for ext in ("png", "pdf"):
            assert (workdir / "results" / "figures" / f"{name}.{ext}").stat().st_size > 10_000, name
    curve = pd.read_csv(workdir / "results" / "dynamic_mnist" / "vhp_rewo" / "seed1" / "curve.csv")
    assert curve["epoch"].tolist() == [1] and curve["nll"].between(50, 2000).all()
    ended = pd.read_csv(workdir / "results" / "tables" / "table2_curves.csv").set_index(["dataset", "method"])
    rewo = ended.loc[("dynamic_mnist", "vhp_rewo")]
    assert (rewo["last_epoch"], rewo["nll_last"]) == (1, pytest.approx(curve["nll"].iloc[0]))
    assert rewo["gap_to_paper"] == pytest.approx(curve["nll"].iloc[0] - 78.88) and pd.isna(rewo["slope_per_10_epochs"])


@pytest.mark.skipif(not MIRROR.exists(), reason=f"the data mirror {MIRROR} is not on this machine")
def test_smoke_dag_interpolations_and_smoothness(workdir):
    run = subprocess.run([*SNAKEMAKE, "--cores", "2", "interpolations", "smoothness", "--configfile",
                          "workflow/config/smoke.yaml"], cwd=workdir, capture_output=True, text=True,
                         env={**os.environ, "VHP_DATA_MIRROR": str(MIRROR)})
    assert run.returncode == 0, run.stderr[-3000:]
    for n in range(3, 7):
        assert len(list((workdir / "results" / "figures").glob(f"fig{n}_*.png"))) == 1, n
    for name in ("fig7_smoothness", "fig7_tradeoff"):
        for ext in ("png", "pdf"):
            assert (workdir / "results" / "figures" / f"{name}.{ext}").stat().st_size > 10_000, (name, ext)
    table = pd.read_csv(workdir / "results" / "tables" / "smoothness.csv")
    config = yaml.safe_load((workdir / "workflow" / "config" / "config.yaml").read_text())["figures"]["smoothness"]
    assert len(table) == 50 * len(config["methods"]) and (table["n_interpolations"] == 2 * 5).all()
    assert (table["mean"] > 0).all() and table["group"].nunique() == 5
    frames = 8  # smoke.yaml's mocap interpolation: R <= 2 sqrt((T - 1) / (T - 2))
    assert table["normalised_mean"].between(0, 2 * ((frames - 1) / (frames - 2)) ** 0.5).all()
    assert (table["normalised_std"] >= 0).all() and table["normalised_undefined"].between(0, 10).all()
    assert (table["reconstruction_rms"] > 0).all() and table["mean_pose_rms"].between(0.1, 10).all()
    steps = pd.read_csv(workdir / "results" / "tables" / "pendulum_interpolation.csv")
    assert len(steps) == 3 and steps["max_step_deg"].between(0, 180).all()
    markdown = (workdir / "results" / "tables" / "smoothness.md").read_text()
    assert "| VHP + REWO |" in markdown and "| VHP + REWO | 1 |" in markdown and "## Normalised smoothness" in markdown


def test_smoke_sensitivity_study(workdir, tmp_path):
    """sensitivity.yaml at the smoke scale with one seed: every setting is trained (variants of the
    method and of the dataset, whose data land in a folder of their own) and lands in the table and figure."""
    one_seed = tmp_path / "one_seed.yaml"
    one_seed.write_text("sensitivity: {seeds: [1]}\n")
    run = subprocess.run([*SNAKEMAKE, "--cores", "2", "sensitivity", "--configfile", "workflow/config/sensitivity.yaml",
                          "workflow/config/smoke.yaml", str(one_seed)], cwd=workdir, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_csv(workdir / "results" / "tables" / "table1_sensitivity.csv")
    spec = yaml.safe_load((workdir / "workflow" / "config" / "sensitivity.yaml").read_text())["sensitivity"]
    assert list(dict.fromkeys(table["factor"])) == list(spec["factors"])
    assert len(table) == sum(1 + len(f["levels"]) for f in spec["factors"].values())
    assert (table["n_seeds"] == 1).all() and table["abs_error_median"].between(0, 3.1416).all()
    assert table.loc[table["is_reference"], "method"].eq("vhp_rewo").all()
    assert (workdir / "data" / "variants" / "pendulum_rod5" / "pendulum" / "manifest.json").exists()
    for ext in ("png", "pdf"):
        assert (workdir / "results" / "figures" / f"table1_sensitivity.{ext}").stat().st_size > 10_000


@pytest.mark.skipif(not MIRROR.exists(), reason=f"the data mirror {MIRROR} is not on this machine")
def test_results_doc_is_generated_from_the_tables_it_shows(workdir, tmp_path):
    """After the smoke DAGs above, `results_doc` with the sensitivity study: a page per section, its numbers
    those of the CSVs, every figure it links present, nothing else rerun; a later run for one section rewrites
    that page and keeps the others as they were."""
    one_seed = tmp_path / "one_seed.yaml"
    one_seed.write_text("sensitivity: {seeds: [1]}\n")
    command = [*SNAKEMAKE, "--cores", "2", "results_doc", "--configfile", "workflow/config/sensitivity.yaml",
               "workflow/config/smoke.yaml", str(one_seed)]
    env = {**os.environ, "VHP_DATA_MIRROR": str(MIRROR)}
    run = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.findall(r"^(?:local)?rule (\w+):", run.stderr, re.M) == ["results_doc"]
    docs = workdir / "docs"
    index = (docs / "results.md").read_text()
    assert re.findall(r"^## \[(.+)\]\(results/(\w+)\.md\)$", index, re.M) == [
        ("Table 1: the pendulum's angle read-outs", "table1"),
        ("What Table 1's headline depends on (sensitivity study)", "sensitivity"),
        ("Graph-based interpolation on the pendulum (Figs. 3-4)", "pendulum_interpolation"),
        ("CMU mocap smoothness (Figs. 5-7)", "smoothness"), ("Table 2: test NLL", "table2")]
    pages = {p.stem: p.read_text() for p in (docs / "results").glob("*.md")}
    tables = workdir / "results" / "tables"
    rewo = pd.read_csv(tables / "table1.csv").iloc[0]
    verdict = f"{rewo['label']}'s OLS error over 2 seeds: median {rewo['abs_error_median']:.3f}"
    assert verdict in pages["table1"] and verdict in index
    assert (tables / "table1.md").read_text().splitlines()[2] in pages["table1"]  # the rendered table
    points = pd.read_csv(tables / "smoothness_seeds.csv")
    assert f"{points['mean_pose_rms'].mean():.3f} (smoothness factor 0)" in pages["smoothness"]
    figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", "".join(pages.values()))
    assert "seed 1 per setting" in pages["sensitivity"] and "undecided: too few paired seeds" in index
    assert len(figures) == 10  # Figs. 3-6, 7 and the trade-off; the tables' four
    for figure in figures:  # a copy beside the page, of the figure its rule drew
        drawn = workdir / "results" / "figures" / figure.split("-", 1)[1]
        assert (docs / "results" / figure).read_bytes() == drawn.read_bytes() and drawn.stat().st_size > 10_000
    table1_figure = (docs / "results" / "figures" / "table1-table1_seeds.png").read_bytes()

    only_table1 = tmp_path / "only_table1.yaml"
    only_table1.write_text("results_doc: {sections: [table1]}\n")
    run = subprocess.run([*SNAKEMAKE, "--cores", "2", "results_doc", "--forcerun", "results_doc", "--configfile",
                          "workflow/config/config.yaml", "workflow/config/smoke.yaml", str(only_table1)],
                         cwd=workdir, capture_output=True, text=True, env=env)  # the default named again: listed once
    assert run.returncode == 0, run.stderr[-3000:]
    again = {p.stem: p.read_text() for p in (docs / "results").glob("*.md")}
    assert {k: v for k, v in again.items() if k != "table1"} == {k: v for k, v in pages.items() if k != "table1"}
    assert "config: config.yaml + smoke.yaml + only_table1.yaml" in again["table1"]
    assert "config: config.yaml + smoke.yaml + only_table1.yaml" in (docs / "results.md").read_text()
    assert "config: config.yaml + sensitivity.yaml + smoke.yaml + one_seed.yaml" in again["table2"]

    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("results_doc: {sections: [table1], tag: part2}\n")
    run = subprocess.run([*SNAKEMAKE, "--cores", "2", "results_doc", "--configfile", "workflow/config/smoke.yaml",
                          str(tagged)], cwd=workdir, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    third = {p.stem: p.read_text() for p in (docs / "results").glob("*.md")}
    assert {k: v for k, v in third.items() if k != "table1-part2"} == again  # the untagged page stays
    assert third["table1-part2"].startswith("# Table 1: the pendulum's angle read-outs (part2)\n")
    assert "(figures/table1-part2-table1_seeds.png)" in third["table1-part2"]
    assert (docs / "results" / "figures" / "table1-table1_seeds.png").read_bytes() == table1_figure
    assert re.findall(r"^## \[.+\]\(results/(table1[\w-]*)\.md\)$", (docs / "results.md").read_text(), re.M) == [
        "table1", "table1-part2"]

# ---------------------------------------------------------------------------------------------------
# The SLURM profile on a real single-node SLURM: after the local smoke runs above, whose tables it must equal.

SNAKEMAKE_BIN = str(Path(sys.executable).parent / "snakemake")


def why_not() -> str | None:
    """Why the test cannot run here, or None."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin"
    missing = [b for b in ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd", "sbatch")
               if not shutil.which(b, path=path)]
    if missing:
        return f"SLURM is not installed here (missing {missing}); .ci/run installs it"
    if os.geteuid() != 0:
        return "starting SLURM's daemons needs root"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install '.[cluster]')"
    if not MIRROR.exists():
        return f"the data mirror {MIRROR} is not on this machine"
    return None


def dry_run_runtimes(work: Path, env: dict, *args: str) -> dict[str, int]:
    """rule name (with wildcards) -> the runtime Snakemake's dry run says the job asks for."""
    run = subprocess.run([SNAKEMAKE_BIN, "-n", "--forceall", "table1", "table2", "--configfile",
                          "workflow/config/smoke.yaml", *args], cwd=work, capture_output=True, text=True, env=env,
                         check=True)
    out = run.stdout + run.stderr  # Snakemake 9 prints the jobs on stderr
    runtimes = {}
    for block in re.split(r"^\[.*\d{4}\]$", out, flags=re.M):  # each job's lines follow a [date] line
        rule = re.search(r"^(?:local)?rule (\S+):", block, re.M)
        wildcards = re.search(r"wildcards: (.*)", block)
        runtime = re.search(r"runtime=(\d+)", block)
        if rule and runtime:  # named as the SLURM plugin's job comment: values of the wildcards joined by _
            values = "_".join(w.split("=", 1)[1] for w in wildcards.group(1).split(", ")) if wildcards else ""
            runtimes[rule.group(1) + (f"_wildcards_{values}" if values else "")] = int(runtime.group(1))
    return runtimes


def scheduled_jobs(text: str) -> dict[str, dict[str, str]]:
    """`scontrol show job` output -> comment (rule_<name>[_wildcards_<values>]) -> the job's fields."""
    jobs = {}
    for record in text.split("\n\n"):
        fields = dict(re.findall(r"(\w[\w/:]*)=(\S*)", record))
        if fields.get("Comment", "").startswith("rule_"):
            jobs[fields["Comment"]] = fields
    return jobs


@pytest.mark.skipif(why_not() is not None, reason=str(why_not()))
def test_the_slurm_profile_runs_the_smoke_tables_as_a_local_run_does(workdir, tmp_path):
    """The smoke Table 1 and Table 2 on one dataset (every kind of job, a quarter of Table 2's) through
    workflow/profiles/slurm on a real single-node SLURM (tests/slurm/cluster.sh): Table 1 byte-identical
    to the local run's (the module's workdir) and Table 2's and the active units' rows equal to its rows
    for that dataset; every job completed with the time limit its rule asks for, on the cluster's
    default partition."""
    env = {**os.environ, "VHP_DATA_MIRROR": str(MIRROR),
           "PATH": f"{Path(SNAKEMAKE_BIN).parent}:{os.environ['PATH']}"}
    local = workdir
    run = subprocess.run([SNAKEMAKE_BIN, "--cores", "2", "table1", "table2", "--configfile",
                          "workflow/config/smoke.yaml"], cwd=local, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]  # nothing to do when the tests above ran

    cluster = tmp_path / "cluster"
    shutil.copytree(local / "workflow", cluster / "workflow")
    for name in ("Snakefile", "environment.yml"):
        shutil.copy(local / name, cluster)
    jobs_file = tmp_path / "jobs.txt"
    one_dataset = ["--config", "tables={table2: {datasets: [dynamic_mnist]}}"]
    run = subprocess.run([str(ROOT / "tests" / "slurm" / "run_profile.sh"), str(cluster), str(jobs_file), "table1",
                          "table2", *one_dataset], capture_output=True, text=True,
                         env={**env, "SNAKEMAKE": SNAKEMAKE_BIN}, timeout=1500)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    tables = [w / "results" / "tables" for w in (cluster, local)]
    assert (tables[0] / "table1.csv").read_bytes() == (tables[1] / "table1.csv").read_bytes()
    for name in ("table2.csv", "active_units.csv"):
        ours, theirs = (pd.read_csv(t / name, dtype=str, keep_default_na=False) for t in tables)  # cells as written
        assert set(ours["dataset"]) == {"dynamic_mnist"}, name
        pd.testing.assert_frame_equal(ours, theirs[theirs["dataset"] == "dynamic_mnist"].reset_index(drop=True))

    jobs = scheduled_jobs(jobs_file.read_text())
    expected = dry_run_runtimes(cluster, env, *one_dataset)
    trained = [c for c in jobs if c.startswith("rule_train_")]
    assert len(trained) == sum(1 for n in expected if n.startswith("train_")) > 0
    assert any(c.startswith("rule_nll_wildcards_") for c in jobs)
    for comment, fields in jobs.items():
        assert fields["JobState"] == "COMPLETED", (comment, fields["JobState"])
        assert fields["Partition"] == "debug"  # the cluster's default: the profile names none
        hours, minutes, _ = (int(v) for v in fields["TimeLimit"].split("-")[-1].split(":"))
        assert 60 * hours + minutes == expected[comment.removeprefix("rule_")], comment
    assert any(f["MinMemoryNode"] == "4000M" for c, f in jobs.items() if c.startswith("rule_train_pendulum"))


@pytest.mark.fault("config_change")
def test_a_config_change_never_destroys_the_finished_run_before_its_replacement_is_done(tmp_path):
    """Change one run's config, start the DAG and kill it mid-training: the finished model.pt and its
    metrics.json stay as they were; let the rerun finish and the new model is published in their place."""
    work = tmp_path / "work"
    shutil.copytree(ROOT / "workflow", work / "workflow")
    for name in ("Snakefile", "environment.yml"):
        shutil.copy(ROOT / name, work)
    target = "results/pendulum/vhp_rewo/seed1/metrics.json"
    assert snakemake(work, target).returncode == 0  # the finished run
    run_dir = work / "results" / "pendulum" / "vhp_rewo" / "seed1"
    before = {n: (run_dir / n).read_bytes() for n in ("model.pt", "metrics.json")}
    changed = tmp_path / "changed.yaml"
    changed.write_text("methods: {vhp_rewo: {training: {lr: 2.0e-3}}}\n"
                       "datasets: {pendulum: {training: {epochs: 30}}}\n")
    args = [*SNAKEMAKE, "--cores", "2", target, "--configfile", "workflow/config/smoke.yaml", str(changed)]
    dag = subprocess.Popen(args, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    for _ in range(1200):  # until the new run has trained for a while
        logs = list((work / "results" / "runs" / "pendulum" / "vhp_rewo").glob("seed1-*/work/train_log.csv"))
        if any(len(p.read_text().splitlines()) > 5 for p in logs):
            break
        time.sleep(0.1)
    os.killpg(dag.pid, signal.SIGKILL)
    dag.wait()
    assert {n: (run_dir / n).read_bytes() for n in before} == before
    assert subprocess.run([*args, "--unlock"], cwd=work, capture_output=True).returncode == 0  # after a kill -9
    rerun = subprocess.run([*args, "--rerun-incomplete"], cwd=work, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert (run_dir / "model.pt").read_bytes() != before["model.pt"]
    assert len(list((work / "results" / "runs" / "pendulum" / "vhp_rewo").glob("seed1-*"))) == 2  # old kept
