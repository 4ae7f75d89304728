"""docs/results.md from the configured sections' files: their tables, figures and computed verdicts."""
import datetime
from pathlib import Path

import pandas as pd
from common import start

from vhp_core.io import write_text
from vhp_core.report import results_doc as doc

start(snakemake)
sections = {}
for name, part in snakemake.params.parts.items():
    section = doc.Section(markdown="" if part["md"] is None else Path(part["md"]).read_text(),
                          sources=[p for p in (part["csv"], part["md"]) if p], figures=part["figures"],
                          scale=snakemake.params.scales[name])
    sections[name] = (section, doc.verdicts(name, pd.read_csv(part["csv"]), snakemake.params.labels))
generated = f"{datetime.date.today().isoformat()}, config: {' + '.join(snakemake.params.configfiles)}"
missing = [name for name in doc.SECTIONS if name not in sections]
write_text(snakemake.output[0], doc.document(sections, generated, missing))
