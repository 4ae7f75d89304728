"""docs/results/{section}.md for the configured sections (their tables, figures and computed verdicts), then
docs/results.md indexing every section page present, including those earlier configs generated."""
import datetime
from pathlib import Path

import pandas as pd
from common import start

from vhp_core.io import publish_copy, write_text
from vhp_core.report import results_doc as doc

start(snakemake)
generated = f"{datetime.date.today().isoformat()}, config: {' + '.join(snakemake.params.configfiles)}"
for (name, part), page in zip(snakemake.params.parts.items(), snakemake.output.pages, strict=True):
    copies = [doc.page_figure(Path(page).stem, figure) for figure in part["figures"]]
    for figure, copy in zip(part["figures"], copies, strict=True):
        publish_copy(figure, Path(page).parent / copy)
    section = doc.Section(markdown="" if part["md"] is None else Path(part["md"]).read_text(),
                          sources=[p for p in (part["csv"], part["md"], part["curves"]) if p],
                          figures=copies, scale=snakemake.params.scales[name])
    curves = None if part["curves"] is None else pd.read_csv(part["curves"])
    verdicts = doc.verdicts(name, pd.read_csv(part["csv"]), snakemake.params.labels, curves)
    write_text(page, doc.section_page(name, section, verdicts, generated, snakemake.params.tag))
folder = Path(snakemake.output.index).with_suffix("")
pages = {p.stem: p.read_text() for p in folder.glob("*.md") if doc.section_of(p.stem) in doc.SECTIONS}
write_text(snakemake.output.index, doc.index(pages))
